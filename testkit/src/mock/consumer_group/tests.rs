//! The consumer group coordinator driven directly: requests and `now` in, responses out.
