//! A service under HTTP load, as measured: aerobench's own HTTP load generator (hyper, keep-alive
//! connections, a closed loop of virtual users or an open loop at a rate), the `Server-Timing`
//! figures apps report beside each answer, and what one slice of one column measured. The run
//! that starts the apps and steps the load is `run::service_steps`.

pub mod http_load;
pub mod http_server_timing;
pub mod measured;
