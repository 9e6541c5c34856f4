//! CRC-64/Jones as Redis computes it for RDB files and DUMP payloads: reflected, polynomial
//! 0xad93d23594c935a9, initial value 0, no final xor.

const POLY_REFLECTED: u64 = 0x95ac_9329_ac4b_c9b5;

const fn table() -> [u64; 256] {
    let mut t = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u64;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ POLY_REFLECTED
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

/// Slicing-by-8 tables: `TABLES[k][b]` is the CRC of byte `b` followed by `k` zero bytes,
/// so eight bytes are folded in with eight lookups instead of eight dependent steps.
const fn tables() -> [[u64; 256]; 8] {
    let mut t = [[0u64; 256]; 8];
    t[0] = table();
    let mut k = 1;
    while k < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[k - 1][i];
            t[k][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            i += 1;
        }
        k += 1;
    }
    t
}

static TABLES: [[u64; 256]; 8] = tables();

/// Continues a CRC over more bytes (start with 0).
pub fn update(mut crc: u64, bytes: &[u8]) -> u64 {
    let t = &TABLES;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        crc ^= u64::from_le_bytes(c.try_into().unwrap());
        crc = t[7][(crc & 0xff) as usize]
            ^ t[6][((crc >> 8) & 0xff) as usize]
            ^ t[5][((crc >> 16) & 0xff) as usize]
            ^ t[4][((crc >> 24) & 0xff) as usize]
            ^ t[3][((crc >> 32) & 0xff) as usize]
            ^ t[2][((crc >> 40) & 0xff) as usize]
            ^ t[1][((crc >> 48) & 0xff) as usize]
            ^ t[0][(crc >> 56) as usize];
    }
    for &b in chunks.remainder() {
        crc = t[0][((crc ^ b as u64) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

#[cfg(test)]
mod tests {
    #[test]
    fn sliced_matches_bytewise() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
        for cut in [0, 1, 7, 8, 9, 500, 999] {
            let bytewise = data.iter().fold(0u64, |c, &b| super::update(c, &[b]));
            let split = super::update(super::update(0, &data[..cut]), &data[cut..]);
            assert_eq!(split, bytewise);
        }
    }

    #[test]
    fn check_value() {
        // The check value Redis's own crc64 test uses.
        assert_eq!(super::update(0, b"123456789"), 0xe9c6_d914_c4b8_d9ca);
    }
}
