//! Any bytes, as one client connection's traffic to the built-in server: must never panic,
//! hang, or charge more than the server's memory budget. The lowest bit of the first byte picks
//! a server that requires a login.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../src/server/mod.rs"]
#[allow(dead_code, unused_imports)]
mod server;

fuzz_target!(|data: &[u8]| {
    let secured = data.first().is_some_and(|b| b & 1 == 1);
    let r = server::replay::serve_bytes(data, secured);
    assert!(r.peak_charged <= server::replay::BUDGET);
});
