//! `services[].health`: the bare `http:`/`tcp:` keys and every refusal.

use super::*;

#[test]
fn a_bare_http_or_tcp_key_chooses_the_check_with_its_defaults() {
    let http = parse(&edit(&[("health: { tcp: {} }", "health: { http: }")]));
    assert_eq!(http.services[1].health.kind, HealthKind::default_http());
    let tcp = parse(&edit(&[("health: { tcp: {} }", "health: { tcp: }")]));
    assert_eq!(tcp.services[1].health.kind, HealthKind::Tcp);
}

rejects! {
    health_http_and_tcp: [("health: { tcp: {} }", "health: { tcp: {}, http: {} }")] => "services[1].health", "set one of `http` or `tcp`, not both";
    health_path_relative: [("path: /v2/", "path: v2/")] => "services[0].health.http.path", "\"v2/\": must start with '/'";
    health_path_with_space: [("path: /v2/", "path: \"/v2/ x\"")] => "services[0].health.http.path", "no spaces or control characters";
    health_host_with_space: [("host: registry.example", "host: \"registry example\"")] => "services[0].health.http.host", "is not a Host value";
    health_expect_empty: [("expect: [200, 401]", "expect: []")] => "services[0].health.http.expect", "empty: no answer could pass";
    health_expect_bad_code: [("expect: [200, 401]", "expect: [200, 4010]")] => "services[0].health.http.expect[1]", "4010 is out of range 100..=599";
    health_expect_header_bad: [("expect_header: Docker-Distribution-API-Version", "expect_header: \"Bad Header\"")] => "services[0].health.http.expect_header", "\"Bad Header\" is not an HTTP header name";
    health_interval_zero: [("interval: 5s", "interval: 0s")] => "services[0].health.interval", "0s: must be more than zero";
    health_interval_too_long: [("interval: 5s", "interval: 2h")] => "services[0].health.interval", "2h is longer than 1h";
    health_interval_without_unit: [("interval: 5s", "interval: 5")] => "services[0].health.interval", "5 has no unit";
    health_interval_unknown_unit: [("interval: 5s", "interval: 5 parsecs")] => "services[0].health.interval", "unknown time unit \"parsecs\"";
    health_timeout_over_interval: [("timeout: 2s", "timeout: 6s")] => "services[0].health.timeout", "6s is longer than the interval, 5s";
    health_timeout_zero: [("timeout: 2s", "timeout: 0ms")] => "services[0].health.timeout", "0s: must be more than zero";
    health_rise_zero: [("rise: 2", "rise: 0")] => "services[0].health.rise", "0 is out of range 1..=100";
    health_fall_too_high: [("fall: 3", "fall: 101")] => "services[0].health.fall", "101 is out of range 1..=100";
}
