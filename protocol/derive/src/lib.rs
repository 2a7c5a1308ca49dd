//! Derive macro for gregor-protocol messages.
//!
//! `#[derive(Message)]` reads a struct whose fields carry `#[kafka(...)]` attributes transcribed
//! from Kafka's message schemas and generates its versioned wire codec:
//!
//! - struct attributes: `versions = "4-18"` and `flexible = "12+"` mark a top-level message (it
//!   gets a `Message` impl); without them the struct is a nested structure (it gets `WireField`
//!   and `Nullable` impls and follows its parent's version and flexibility);
//! - field attributes: `versions` (default all), `nullable` (for `Option` fields; default: every
//!   version the field exists in), `tag = N` (a tagged field), `default = "expr"` (the value the
//!   field takes in versions that lack it; default `Default::default()`), and `unknown_tags` on
//!   the `UnknownTaggedFields` field.
//!
//! The generated encoder refuses a non-default value in a version without the field and a null
//! in a version where the field is not nullable; the decoder refuses nulls likewise.
#![allow(missing_docs)]

mod model;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Generates the versioned codec for a Kafka message or nested structure.
#[proc_macro_derive(Message, attributes(kafka))]
pub fn derive_message(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match model::StructModel::parse(&input) {
        Ok(model) => model.expand().into(),
        Err(e) => e.to_compile_error().into(),
    }
}
