//! `stats:`: absent, null or empty, the password's sources, and every
//! refusal.

use super::*;

#[test]
fn the_stats_password_may_come_from_the_environment() {
    let c = parse(&format!(
        "{MINIMAL}stats: {{ auth: {{ user: admin, password_env: REGHA_STATS_PASSWORD }} }}\n"
    ));
    assert_eq!(
        c.stats.unwrap().auth.unwrap().password,
        PasswordSource::Env("REGHA_STATS_PASSWORD".into())
    );
}

#[test]
fn stats_absent_null_and_empty() {
    assert_eq!(parse(MINIMAL).stats.unwrap().listen, DEFAULT_STATS_LISTEN);
    assert_eq!(parse(&format!("{MINIMAL}stats: null\n")).stats, None);
    assert_eq!(parse(&format!("{MINIMAL}stats:\n")).stats, None);
    assert_eq!(
        parse(&format!("{MINIMAL}stats: {{}}\n"))
            .stats
            .unwrap()
            .listen,
        DEFAULT_STATS_LISTEN
    );
    let v6 = parse(&format!("{MINIMAL}stats: {{ listen: \"[::1]:9100\" }}\n"));
    assert_eq!(
        v6.stats.unwrap().listen,
        "[::1]:9100".parse::<SocketAddr>().unwrap()
    );
}

rejects! {
    stats_listen_not_a_socket_address: [("listen: 127.0.0.1:1158", "listen: localhost:1158")] => "stats.listen", "\"localhost:1158\" is not a socket address";
    stats_listen_port_zero: [("listen: 127.0.0.1:1158", "listen: 127.0.0.1:0")] => "stats.listen", "port 0";
    stats_user_missing: [("user: admin, ", "")] => "stats.auth.user", "required";
    stats_user_with_colon: [("user: admin", "user: \"ad:min\"")] => "stats.auth.user", "without ':'";
    stats_password_file_missing: [(", password_file: /etc/regha/stats.pass", "")] => "stats.auth.password_file", "required";
    stats_password_file_relative: [("password_file: /etc/regha/stats.pass", "password_file: stats.pass")] => "stats.auth.password_file", "\"stats.pass\" is not an absolute path";
    stats_password_file_and_env: [("password_file: /etc/regha/stats.pass", "password_file: /etc/regha/stats.pass, password_env: REGHA_STATS_PASSWORD")] => "stats.auth", "both set";
    stats_password_env_bad_name: [("password_file: /etc/regha/stats.pass", "password_env: 1-PASS")] => "stats.auth.password_env", "not an environment variable name";
}
