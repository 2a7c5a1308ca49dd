//! Parsing `#[kafka]` attributes into a model, and generating code from it.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{Data, DeriveInput, Expr, Fields, Ident, LitInt, LitStr, Type};

/// An inclusive version range.
#[derive(Clone, Copy)]
struct Range {
    lo: i16,
    hi: i16,
}

impl Range {
    const ALL: Range = Range {
        lo: 0,
        hi: i16::MAX,
    };
    const NONE: Range = Range { lo: 1, hi: 0 };

    fn parse(lit: &LitStr) -> syn::Result<Range> {
        let s = lit.value();
        let s = s.trim();
        let num = |t: &str| {
            t.trim()
                .parse::<i16>()
                .map_err(|_| syn::Error::new(lit.span(), "bad version"))
        };
        if s == "none" {
            Ok(Range::NONE)
        } else if let Some(lo) = s.strip_suffix('+') {
            Ok(Range {
                lo: num(lo)?,
                hi: i16::MAX,
            })
        } else if let Some((lo, hi)) = s.split_once('-') {
            Ok(Range {
                lo: num(lo)?,
                hi: num(hi)?,
            })
        } else {
            let v = num(s)?;
            Ok(Range { lo: v, hi: v })
        }
    }

    fn intersect(self, o: Range) -> Range {
        Range {
            lo: self.lo.max(o.lo),
            hi: self.hi.min(o.hi),
        }
    }

    fn is_empty(self) -> bool {
        self.lo > self.hi
    }

    /// An expression true when `v` is in the range.
    fn test(self, v: &Ident) -> TokenStream {
        let (lo, hi) = (self.lo, self.hi);
        if self.is_empty() {
            quote!(false)
        } else if hi == i16::MAX {
            quote!(#v >= #lo)
        } else if lo == hi {
            quote!(#v == #lo)
        } else {
            quote!((#lo..=#hi).contains(&#v))
        }
    }
}

struct FieldModel {
    ident: Ident,
    ty: Type,
    versions: Range,
    nullable: Option<Range>,
    tag: Option<u32>,
    default: Option<Expr>,
}

impl FieldModel {
    fn default_expr(&self) -> TokenStream {
        match &self.default {
            Some(e) => quote!(#e),
            None => quote!(::core::default::Default::default()),
        }
    }
}

pub struct StructModel {
    ident: Ident,
    versions: Option<Range>,
    flexible: Option<Range>,
    fields: Vec<FieldModel>,
    unknown_tags: Option<Ident>,
}

fn is_option(ty: &Type) -> bool {
    matches!(ty, Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "Option"))
}

impl StructModel {
    pub fn parse(input: &DeriveInput) -> syn::Result<StructModel> {
        let Data::Struct(data) = &input.data else {
            return Err(syn::Error::new_spanned(
                input,
                "Message derives only on structs",
            ));
        };
        let Fields::Named(named) = &data.fields else {
            return Err(syn::Error::new_spanned(input, "Message needs named fields"));
        };
        let (mut versions, mut flexible) = (None, None);
        for attr in input.attrs.iter().filter(|a| a.path().is_ident("kafka")) {
            attr.parse_nested_meta(|m| {
                let lit: LitStr = m.value()?.parse()?;
                if m.path.is_ident("versions") {
                    versions = Some(Range::parse(&lit)?);
                } else if m.path.is_ident("flexible") {
                    flexible = Some(Range::parse(&lit)?);
                } else {
                    return Err(m.error("unknown struct attribute"));
                }
                Ok(())
            })?;
        }
        let mut fields = Vec::new();
        let mut unknown_tags = None;
        for f in &named.named {
            let Some(ident) = f.ident.clone() else {
                continue;
            };
            let mut fm = FieldModel {
                ident,
                ty: f.ty.clone(),
                versions: Range::ALL,
                nullable: None,
                tag: None,
                default: None,
            };
            let mut is_unknown = false;
            for attr in f.attrs.iter().filter(|a| a.path().is_ident("kafka")) {
                attr.parse_nested_meta(|m| {
                    if m.path.is_ident("unknown_tags") {
                        is_unknown = true;
                        return Ok(());
                    }
                    if m.path.is_ident("tag") {
                        let lit: LitInt = m.value()?.parse()?;
                        fm.tag = Some(lit.base10_parse()?);
                        return Ok(());
                    }
                    let lit: LitStr = m.value()?.parse()?;
                    if m.path.is_ident("versions") {
                        fm.versions = Range::parse(&lit)?;
                    } else if m.path.is_ident("nullable") {
                        fm.nullable = Some(Range::parse(&lit)?);
                    } else if m.path.is_ident("default") {
                        fm.default = Some(lit.parse()?);
                    } else {
                        return Err(m.error("unknown field attribute"));
                    }
                    Ok(())
                })?;
            }
            if is_unknown {
                unknown_tags = Some(fm.ident);
                continue;
            }
            if is_option(&fm.ty) && fm.nullable.is_none() {
                fm.nullable = Some(Range::ALL);
            }
            if !is_option(&fm.ty) && fm.nullable.is_some() {
                return Err(syn::Error::new_spanned(
                    &f.ty,
                    "nullable fields must be Option",
                ));
            }
            fields.push(fm);
        }
        let mut tags: Vec<u32> = fields.iter().filter_map(|f| f.tag).collect();
        let n = tags.len();
        tags.sort_unstable();
        tags.dedup();
        if tags.len() != n {
            return Err(syn::Error::new_spanned(input, "duplicate tag"));
        }
        if n > 0 && unknown_tags.is_none() {
            return Err(syn::Error::new_spanned(
                input,
                "tagged fields need an unknown_tags field",
            ));
        }
        Ok(StructModel {
            ident: input.ident.clone(),
            versions,
            flexible,
            fields,
            unknown_tags,
        })
    }

    pub fn expand(&self) -> TokenStream {
        let ident = &self.ident;
        let name = ident.to_string();
        let v = format_ident!("version");
        let unknown = self.unknown_tags.as_ref();

        // --- encode ---
        let mut enc_regular = Vec::new();
        let mut enc_tagged = Vec::new();
        let mut enc_tagged_absent = Vec::new();
        for f in &self.fields {
            let fi = &f.ident;
            let fname = fi.to_string();
            let present = f.versions.test(&v);
            let default = f.default_expr();
            let null_check = match f.nullable {
                Some(nr) => {
                    let ok = nr.intersect(f.versions).test(&v);
                    quote! {
                        if self.#fi.is_none() && !(#ok) {
                            return Err(crate::error::EncodeError::NullNotAllowed { field: #fname, version: #v });
                        }
                    }
                }
                None => quote!(),
            };
            let ty = &f.ty;
            let is_default = quote!({ let d: #ty = #default; self.#fi == d });
            let absent_err = quote! {
                if !#is_default {
                    return Err(crate::error::EncodeError::FieldNotInVersion { field: #fname, version: #v });
                }
            };
            match f.tag {
                None => enc_regular.push(quote! {
                    if #present {
                        #null_check
                        crate::primitives::WireField::encode_field(&self.#fi, buf, ctx.with_field(#fname))?;
                    } else {
                        #absent_err
                    }
                }),
                Some(tag) => {
                    enc_tagged.push(quote! {
                        if #present {
                            #null_check
                            if !#is_default {
                                let mut b = ::bytes::BytesMut::new();
                                crate::primitives::WireField::encode_field(&self.#fi, &mut b, ctx.with_field(#fname))?;
                                known.push((#tag, b));
                            }
                        } else {
                            #absent_err
                        }
                    });
                    enc_tagged_absent.push(absent_err);
                }
            }
        }
        let enc_tag_section = match unknown {
            Some(u) => quote! {
                if ctx.flexible {
                    let mut known: ::std::vec::Vec<(u32, ::bytes::BytesMut)> = ::std::vec::Vec::new();
                    #(#enc_tagged)*
                    crate::primitives::write_tagged_section(buf, &known, &self.#u)?;
                } else {
                    #(#enc_tagged_absent)*
                    if !self.#u.is_empty() {
                        return Err(crate::error::EncodeError::FieldNotInVersion { field: "unknown_tagged_fields", version: #v });
                    }
                }
            },
            None => quote! {
                if ctx.flexible {
                    crate::primitives::varint::put_uvarint(buf, 0);
                }
            },
        };

        // --- decode ---
        let mut dec_regular = Vec::new();
        let mut dec_tag_init = Vec::new();
        let mut dec_tag_arms = Vec::new();
        for f in &self.fields {
            let fi = &f.ident;
            let fname = fi.to_string();
            let ty = &f.ty;
            let present = f.versions.test(&v);
            let default = f.default_expr();
            let null_check = match f.nullable {
                Some(nr) => {
                    let ok = nr.intersect(f.versions).test(&v);
                    quote! {
                        if x.is_none() && !(#ok) {
                            return Err(crate::error::DecodeError::UnexpectedNull { context: #fname });
                        }
                    }
                }
                None => quote!(),
            };
            match f.tag {
                None => dec_regular.push(quote! {
                    let #fi: #ty = if #present {
                        let x: #ty = crate::primitives::WireField::decode_field(buf, ctx.with_field(#fname))?;
                        #null_check
                        x
                    } else {
                        #default
                    };
                }),
                Some(tag) => {
                    dec_tag_init.push(quote! { let mut #fi: #ty = #default; });
                    dec_tag_arms.push(quote! {
                        #tag if #present => {
                            let x: #ty = crate::primitives::WireField::decode_field(&mut data, ctx.with_field(#fname))?;
                            #null_check
                            crate::primitives::ensure_consumed(&data, #fname)?;
                            #fi = x;
                        }
                    });
                }
            }
        }
        let field_idents: Vec<&Ident> = self.fields.iter().map(|f| &f.ident).collect();
        let (dec_tag_section, unknown_init) = match unknown {
            Some(u) => (
                quote! {
                    let mut #u = crate::primitives::UnknownTaggedFields::default();
                    if ctx.flexible {
                        let section = ctx.with_field(#name);
                        let count = crate::primitives::read_tag_count(buf, section)?;
                        let mut last = None;
                        for _ in 0..count {
                            let (tag, mut data) = crate::primitives::read_tag_header(buf, section, last)?;
                            last = Some(tag);
                            match tag {
                                #(#dec_tag_arms)*
                                _ => #u.0.push(crate::primitives::RawTaggedField { tag, data }),
                            }
                        }
                    }
                },
                quote!(#u,),
            ),
            None => (
                quote! {
                    if ctx.flexible {
                        let section = ctx.with_field(#name);
                        let count = crate::primitives::read_tag_count(buf, section)?;
                        let mut last = None;
                        for _ in 0..count {
                            let (tag, _data) = crate::primitives::read_tag_header(buf, section, last)?;
                            last = Some(tag);
                        }
                    }
                },
                quote!(),
            ),
        };

        // --- sample (arbitrary) ---
        let mut sample_fields = Vec::new();
        for f in &self.fields {
            let fi = &f.ident;
            let fname = fi.to_string();
            let ty = &f.ty;
            let mut present = f.versions.test(&v);
            if f.tag.is_some() {
                present = quote!((ctx.flexible && #present));
            }
            let default = f.default_expr();
            let gen_value = match f.nullable {
                Some(nr) => {
                    let ok = nr.intersect(f.versions).test(&v);
                    quote!(crate::primitives::sample::sample_option(u, ctx.with_field(#fname), #ok)?)
                }
                None => {
                    quote!(crate::primitives::sample::SampleField::sample(u, ctx.with_field(#fname))?)
                }
            };
            sample_fields.push(quote! {
                let #fi: #ty = if #present { #gen_value } else { #default };
            });
        }
        let sample_unknown = match unknown {
            Some(u) => quote! {
                let #u = if ctx.flexible {
                    crate::primitives::sample::sample_unknown_tags(u)?
                } else {
                    crate::primitives::UnknownTaggedFields::default()
                };
            },
            None => quote!(),
        };

        let default_fields = self.fields.iter().map(|f| {
            let fi = &f.ident;
            let d = f.default_expr();
            quote!(#fi: #d,)
        });
        let default_unknown = unknown.map(|u| quote!(#u: ::core::default::Default::default(),));

        let body = quote! {
            impl #ident {
                #[allow(unused_variables, clippy::nonminimal_bool)]
                pub(crate) fn encode_body(&self, buf: &mut ::bytes::BytesMut, ctx: crate::primitives::Ctx) -> ::core::result::Result<(), crate::error::EncodeError> {
                    let #v = ctx.version;
                    #(#enc_regular)*
                    #enc_tag_section
                    Ok(())
                }

                #[allow(unused_variables, unused_mut, clippy::nonminimal_bool)]
                pub(crate) fn decode_body(buf: &mut ::bytes::Bytes, ctx: crate::primitives::Ctx) -> ::core::result::Result<Self, crate::error::DecodeError> {
                    let #v = ctx.version;
                    #(#dec_regular)*
                    #(#dec_tag_init)*
                    #dec_tag_section
                    Ok(Self { #(#field_idents,)* #unknown_init })
                }

                #[cfg(feature = "arbitrary")]
                #[allow(unused_variables, clippy::nonminimal_bool)]
                pub(crate) fn sample_body(u: &mut ::arbitrary::Unstructured<'_>, ctx: crate::primitives::Ctx) -> ::arbitrary::Result<Self> {
                    let #v = ctx.version;
                    #(#sample_fields)*
                    #sample_unknown
                    Ok(Self { #(#field_idents,)* #unknown_init })
                }
            }

            impl ::core::default::Default for #ident {
                fn default() -> Self {
                    Self { #(#default_fields)* #default_unknown }
                }
            }
        };

        let role = match self.versions {
            Some(vr) => {
                let (lo, hi) = (vr.lo, vr.hi);
                let first_flexible = match self.flexible {
                    Some(fr) if !fr.is_empty() => {
                        let lo = fr.lo;
                        quote!(Some(#lo))
                    }
                    _ => quote!(None),
                };
                quote! {
                    impl crate::message::Message for #ident {
                        const NAME: &'static str = #name;
                        const VERSIONS: crate::message::VersionRange = crate::message::VersionRange::new(#lo, #hi);
                        const FIRST_FLEXIBLE: Option<i16> = #first_flexible;

                        fn encode(&self, buf: &mut ::bytes::BytesMut, version: i16) -> ::core::result::Result<(), crate::error::EncodeError> {
                            if !Self::VERSIONS.contains(version) {
                                return Err(crate::error::EncodeError::UnsupportedVersion { api: #name, version });
                            }
                            self.encode_body(buf, crate::message::ctx_for::<Self>(version))
                        }

                        fn decode(buf: &mut ::bytes::Bytes, version: i16) -> ::core::result::Result<Self, crate::error::DecodeError> {
                            if !Self::VERSIONS.contains(version) {
                                return Err(crate::error::DecodeError::UnsupportedVersion { api: #name, version });
                            }
                            Self::decode_body(buf, crate::message::ctx_for::<Self>(version))
                        }

                        #[cfg(feature = "arbitrary")]
                        fn sample(u: &mut ::arbitrary::Unstructured<'_>, version: i16) -> ::arbitrary::Result<Self> {
                            Self::sample_body(u, crate::message::ctx_for::<Self>(version))
                        }
                    }
                }
            }
            None => quote! {
                impl crate::primitives::WireField for #ident {
                    fn encode_field(&self, buf: &mut ::bytes::BytesMut, ctx: crate::primitives::Ctx) -> ::core::result::Result<(), crate::error::EncodeError> {
                        self.encode_body(buf, ctx)
                    }
                    fn decode_field(buf: &mut ::bytes::Bytes, ctx: crate::primitives::Ctx) -> ::core::result::Result<Self, crate::error::DecodeError> {
                        Self::decode_body(buf, ctx)
                    }
                }

                impl crate::primitives::Nullable for #ident {
                    fn encode_null(buf: &mut ::bytes::BytesMut, _ctx: crate::primitives::Ctx) {
                        ::bytes::BufMut::put_i8(buf, -1);
                    }
                    fn encode_some(&self, buf: &mut ::bytes::BytesMut, ctx: crate::primitives::Ctx) -> ::core::result::Result<(), crate::error::EncodeError> {
                        ::bytes::BufMut::put_i8(buf, 1);
                        self.encode_body(buf, ctx)
                    }
                    fn decode_nullable(buf: &mut ::bytes::Bytes, ctx: crate::primitives::Ctx) -> ::core::result::Result<Option<Self>, crate::error::DecodeError> {
                        match <i8 as crate::primitives::WireField>::decode_field(buf, ctx)? {
                            -1 => Ok(None),
                            1 => Self::decode_body(buf, ctx).map(Some),
                            _ => Err(crate::error::DecodeError::InvalidValue { context: ctx.field }),
                        }
                    }
                }

                #[cfg(feature = "arbitrary")]
                impl crate::primitives::sample::SampleField for #ident {
                    fn sample(u: &mut ::arbitrary::Unstructured<'_>, ctx: crate::primitives::Ctx) -> ::arbitrary::Result<Self> {
                        Self::sample_body(u, ctx)
                    }
                }
            },
        };
        quote! { #body #role }
    }
}
