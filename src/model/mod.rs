//! The plain data a run produces and every stage shares: what was measured, against which
//! server, with which columns — at the bottom, computing nothing.

pub mod column_id;
pub mod profile;
pub mod results;
pub mod service;
pub mod stages;
pub mod timestamp;
pub mod verdict;
