//! Derive macro for gregor-protocol messages.
use proc_macro::TokenStream;

/// Placeholder.
#[proc_macro_derive(Message, attributes(kafka))]
pub fn derive_message(_input: TokenStream) -> TokenStream {
    TokenStream::new()
}
