//! Wire primitives shared by every message: fixed-width integers, varints, strings, byte arrays,
//! arrays, UUIDs and tagged fields, in both their classic and flexible (KIP-482) forms.

pub mod varint;
