//! Placeholder until the record-batch benchmark lands.
fn main() {}
