//! The HAProxy + keepalived importer (`regha_import::import`)
//! against any pair of texts: it must never panic, whatever it emits must
//! be YAML (what `check-config` then judges), and its comments and layout
//! must change no value: the output reads back as what `Config::to_yaml`
//! writes for the config it was built from.
//!
//! Input: one control byte, then the keepalived text, a NUL byte, and the
//! haproxy text (each read as UTF-8, bad bytes replaced as `read_inputs`
//! does). Bit 0 of the control byte leaves out keepalived, bit 1 haproxy.
#![no_main]

use libfuzzer_sys::fuzz_target;
use regha_config::Config;
use regha_import::import;

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else {
        return;
    };
    let (k, h) = match rest.iter().position(|&b| b == 0) {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &[][..]),
    };
    let k = String::from_utf8_lossy(k);
    let h = String::from_utf8_lossy(h);
    let keepalived = (ctl & 1 == 0).then_some(("keepalived.conf", k.as_ref()));
    let haproxy = (ctl & 2 == 0).then_some(("haproxy.cfg", h.as_ref()));
    match import(keepalived, haproxy) {
        Ok(out) => {
            let written = match serde_yaml::from_str::<serde_yaml::Value>(&out.yaml) {
                Ok(v) => v,
                Err(e) => panic!(
                    "the import emitted text that is not YAML: {e}\n---\n{}",
                    out.yaml
                ),
            };
            let plain: serde_yaml::Value =
                serde_yaml::from_str(&out.config.to_yaml()).expect("to_yaml writes YAML");
            assert_eq!(
                written, plain,
                "the annotated output reads back differently:\n---\n{}",
                out.yaml
            );
            for w in &out.warnings {
                assert!(!w.message.is_empty(), "a warning without a message");
                let _ = w.to_string();
            }
            // Judged as check-config judges it: any verdict, never a panic.
            let _ = Config::from_yaml_str(&out.yaml);
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
