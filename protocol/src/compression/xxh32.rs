//! xxHash32, needed for the LZ4 frame header checksum (and Kafka's historical variant of it).

const P1: u32 = 0x9E37_79B1;
const P2: u32 = 0x85EB_CA77;
const P3: u32 = 0xC2B2_AE3D;
const P4: u32 = 0x27D4_EB2F;
const P5: u32 = 0x1656_67B1;

#[inline]
fn round(acc: u32, lane: u32) -> u32 {
    acc.wrapping_add(lane.wrapping_mul(P2))
        .rotate_left(13)
        .wrapping_mul(P1)
}

#[inline]
fn lane(bytes: &[u8; 4]) -> u32 {
    u32::from_le_bytes(*bytes)
}

/// The 32-bit xxHash of `input` with `seed`.
pub(crate) fn xxh32(input: &[u8], seed: u32) -> u32 {
    let mut rest = input;
    let mut acc = if input.len() >= 16 {
        let mut v = [
            seed.wrapping_add(P1).wrapping_add(P2),
            seed.wrapping_add(P2),
            seed,
            seed.wrapping_sub(P1),
        ];
        while let Some((stripe, tail)) = rest.split_first_chunk::<16>() {
            for (i, acc) in v.iter_mut().enumerate() {
                let mut word = [0u8; 4];
                word.copy_from_slice(stripe.get(i * 4..i * 4 + 4).unwrap_or(&[0; 4]));
                *acc = round(*acc, lane(&word));
            }
            rest = tail;
        }
        v[0].rotate_left(1)
            .wrapping_add(v[1].rotate_left(7))
            .wrapping_add(v[2].rotate_left(12))
            .wrapping_add(v[3].rotate_left(18))
    } else {
        seed.wrapping_add(P5)
    };
    // The length is mixed in modulo 2^32, as the algorithm specifies.
    acc = acc.wrapping_add(input.len() as u32);
    while let Some((word, tail)) = rest.split_first_chunk::<4>() {
        acc = acc
            .wrapping_add(lane(word).wrapping_mul(P3))
            .rotate_left(17)
            .wrapping_mul(P4);
        rest = tail;
    }
    for &b in rest {
        acc = acc
            .wrapping_add(u32::from(b).wrapping_mul(P5))
            .rotate_left(11)
            .wrapping_mul(P1);
    }
    acc ^= acc >> 15;
    acc = acc.wrapping_mul(P2);
    acc ^= acc >> 13;
    acc = acc.wrapping_mul(P3);
    acc ^ (acc >> 16)
}

#[cfg(test)]
mod tests {
    use super::xxh32;

    #[test]
    fn known_answers() {
        // Reference values published with the xxHash specification's test vectors.
        assert_eq!(xxh32(b"", 0), 0x02CC_5D05);
        assert_eq!(xxh32(b"abc", 0), 0x32D1_53FF);
        assert_eq!(
            xxh32(b"Nobody inspects the spammish repetition", 0),
            0xE229_3B2F
        );
    }
}
