//! Content-defined chunking of file data into blob plaintexts (section 4.4).

use fastcdc::v2020::FastCDC;

/// Files smaller than this are one blob; CDC pieces are at least this long (except the last).
pub const MIN_SIZE: u32 = 256 * 1024;
/// The average piece size the chunker aims for.
pub const AVG_SIZE: u32 = 1024 * 1024;
/// The largest piece (well under the 15 MiB blob plaintext limit).
pub const MAX_SIZE: u32 = 4 * 1024 * 1024;

/// Splits `data` into the plaintexts of its content blobs, in order. Empty data has no pieces.
pub fn split(data: &[u8]) -> Vec<&[u8]> {
    if data.is_empty() {
        return Vec::new();
    }
    if data.len() < MIN_SIZE as usize {
        return vec![data];
    }
    FastCDC::new(data, MIN_SIZE, AVG_SIZE, MAX_SIZE)
        .map(|c| &data[c.offset..c.offset + c.length])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pseudo_random(n: usize, mut seed: u64) -> Vec<u8> {
        (0..n)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect()
    }

    #[test]
    fn pieces_cover_the_data_and_an_edit_is_local() {
        assert!(split(&[]).is_empty());
        assert_eq!(split(b"abc"), vec![b"abc".as_slice()]);
        let mut data = pseudo_random(20 << 20, 42);
        let a: Vec<Vec<u8>> = split(&data).into_iter().map(<[u8]>::to_vec).collect();
        assert_eq!(a.concat(), data);
        assert!(a.iter().all(|p| p.len() <= MAX_SIZE as usize));
        assert!(a.len() >= 8, "about 1 MiB average: {} pieces", a.len());
        data[10 << 20] ^= 1;
        let b: Vec<Vec<u8>> = split(&data).into_iter().map(<[u8]>::to_vec).collect();
        let changed = b.iter().filter(|p| !a.contains(p)).count();
        assert!(changed <= 2, "a one-byte edit changed {changed} pieces");
    }
}
