//! Redis's intset blob (RDB type 11): encoding width (2, 4 or 8 bytes), count, then the
//! sorted values, all little-endian.

/// Encodes sorted, distinct integers.
pub fn write(sorted: &[i64]) -> Vec<u8> {
    let width: usize = if sorted.iter().all(|&v| i16::try_from(v).is_ok()) {
        2
    } else if sorted.iter().all(|&v| i32::try_from(v).is_ok()) {
        4
    } else {
        8
    };
    let mut out = Vec::with_capacity(8 + width * sorted.len());
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(sorted.len() as u32).to_le_bytes());
    for &v in sorted {
        out.extend_from_slice(&v.to_le_bytes()[..width]);
    }
    out
}

/// Decodes an intset; None if malformed.
pub fn read(b: &[u8]) -> Option<Vec<i64>> {
    let width = u32::from_le_bytes(b.get(0..4)?.try_into().ok()?) as usize;
    let n = u32::from_le_bytes(b.get(4..8)?.try_into().ok()?) as usize;
    if ![2, 4, 8].contains(&width) || b.len() != 8 + width * n {
        return None;
    }
    Some(
        b[8..]
            .chunks(width)
            .map(|c| match width {
                2 => i16::from_le_bytes([c[0], c[1]]) as i64,
                4 => i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64,
                _ => i64::from_le_bytes(c.try_into().unwrap()),
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip_widths() {
        for vals in [vec![1, 2, 3], vec![-40000, 5], vec![i64::MIN, 0, i64::MAX]] {
            assert_eq!(super::read(&super::write(&vals)).unwrap(), vals);
        }
        assert_eq!(super::write(&[1, 2])[0], 2);
    }
}
