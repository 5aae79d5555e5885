//! A service under HTTP load: each Python column's client inside a real ASGI app (uvicorn, in
//! processes of its own), driven by aerobench's own HTTP load generator step by step up to
//! saturation, with the columns interleaved over rounds at every step.

pub mod crosscheck;
pub mod http_load;
pub mod http_server_timing;
pub mod measured;
pub mod plan;
pub mod run;
pub mod scenario;
