//! The HTTP load generator: keep-alive connections on hyper, a closed loop of virtual users or
//! an open loop at a rate (latency from each request's due time), every response's latency in
//! an HDR histogram, the app's `Server-Timing` figures beside it, and failures by reason.
