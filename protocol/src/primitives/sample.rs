//! Version-aware random values for property tests and fuzzing (feature `arbitrary`).
//!
//! Values are small (short strings, arrays of at most three elements) so that properties run many
//! cases quickly; the derive calls these for each field present in the version being sampled.

use arbitrary::Unstructured;
use bytes::Bytes;

use super::{Ctx, RawTaggedField, UnknownTaggedFields, Uuid};

/// A field type that can produce a random value for a version context.
pub trait SampleField: Sized {
    /// A random value.
    fn sample(u: &mut Unstructured<'_>, ctx: Ctx) -> arbitrary::Result<Self>;
}

macro_rules! sample_via_arbitrary {
    ($($t:ty),*) => {$(
        impl SampleField for $t {
            fn sample(u: &mut Unstructured<'_>, _ctx: Ctx) -> arbitrary::Result<Self> {
                u.arbitrary()
            }
        }
    )*};
}
sample_via_arbitrary!(i8, i16, i32, i64, u16, u32, bool);

impl SampleField for f64 {
    fn sample(u: &mut Unstructured<'_>, _ctx: Ctx) -> arbitrary::Result<Self> {
        // Finite values only: NaN would make equality-based round trips meaningless.
        Ok(f64::from(u.arbitrary::<i32>()?) / 8.0)
    }
}

impl SampleField for String {
    fn sample(u: &mut Unstructured<'_>, _ctx: Ctx) -> arbitrary::Result<Self> {
        let len = u.int_in_range(0..=8)?;
        (0..len)
            .map(|_| Ok(char::from(b'a' + u.int_in_range(0..=25)?)))
            .collect()
    }
}

impl SampleField for Bytes {
    fn sample(u: &mut Unstructured<'_>, _ctx: Ctx) -> arbitrary::Result<Self> {
        let len = u.int_in_range(0..=12)?;
        Ok(Bytes::copy_from_slice(u.bytes(len)?))
    }
}

impl SampleField for Uuid {
    fn sample(u: &mut Unstructured<'_>, _ctx: Ctx) -> arbitrary::Result<Self> {
        Ok(Uuid(u.arbitrary()?))
    }
}

impl<T: SampleField> SampleField for Vec<T> {
    fn sample(u: &mut Unstructured<'_>, ctx: Ctx) -> arbitrary::Result<Self> {
        let len = u.int_in_range(0..=3)?;
        (0..len).map(|_| T::sample(u, ctx)).collect()
    }
}

/// A random optional value: null only when `allow_null` (the version makes the field nullable).
pub fn sample_option<T: SampleField>(
    u: &mut Unstructured<'_>,
    ctx: Ctx,
    allow_null: bool,
) -> arbitrary::Result<Option<T>> {
    if allow_null && u.ratio(1, 4)? {
        Ok(None)
    } else {
        T::sample(u, ctx).map(Some)
    }
}

/// Zero to two unknown tagged fields, with tags far above any Kafka assigns today.
pub fn sample_unknown_tags(u: &mut Unstructured<'_>) -> arbitrary::Result<UnknownTaggedFields> {
    let mut out = Vec::new();
    let mut tag = 10_000u32;
    for _ in 0..u.int_in_range(0..=2)? {
        tag += u.int_in_range(1..=100)?;
        let len = u.int_in_range(0..=6)?;
        out.push(RawTaggedField {
            tag,
            data: Bytes::copy_from_slice(u.bytes(len)?),
        });
    }
    Ok(UnknownTaggedFields(out))
}
