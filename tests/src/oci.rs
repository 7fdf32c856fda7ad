//! OCI images made up by the tests: an image layout directory (what
//! `skopeo copy oci:DIR:TAG ...` reads) with layers of random bytes of
//! chosen sizes, and the check that an image pulled back is the same, byte
//! for byte.
//!
//! Each layer is a real tar (one file of random bytes) wrapped in gzip with
//! stored (uncompressed) deflate blocks: skopeo sees a gzip layer, which a
//! registry destination keeps as it is (`--preserve-digests` makes it fail
//! rather than recompress), and making a 200 MiB layer costs no
//! compression time.

use std::{
    fs::File,
    io::{BufWriter, Write},
    path::{Path, PathBuf},
};

use sha2::{Digest, Sha256};

use crate::rng::SplitMix64 as Rng;

pub const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub const CONFIG_TYPE: &str = "application/vnd.oci.image.config.v1+json";
pub const LAYER_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// One content-addressed blob of the layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blob {
    /// `sha256:<hex>`.
    pub digest: String,
    pub size: u64,
}

/// An image layout on disk.
#[derive(Clone, Debug)]
pub struct Image {
    pub dir: PathBuf,
    pub tag: String,
    pub manifest: Blob,
    pub config: Blob,
    pub layers: Vec<Blob>,
}

impl Image {
    /// `oci:<dir>:<tag>`, the skopeo reference.
    pub fn reference(&self) -> String {
        format!("oci:{}:{}", self.dir.display(), self.tag)
    }
}

/// A writer that hashes what passes through it and counts it.
struct Hashing<W> {
    inner: W,
    hash: Sha256,
    len: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn blob_path(dir: &Path, digest: &str) -> PathBuf {
    let hex = digest.strip_prefix("sha256:").expect("sha256 digest");
    dir.join("blobs").join("sha256").join(hex)
}

/// Writes `bytes` as a blob of the layout.
fn put_blob(dir: &Path, bytes: &[u8]) -> Blob {
    let digest = format!("sha256:{}", hex(&Sha256::digest(bytes)));
    std::fs::write(blob_path(dir, &digest), bytes).expect("write blob");
    Blob {
        digest,
        size: bytes.len() as u64,
    }
}

/// A ustar header for one regular file.
fn tar_header(name: &str, size: u64) -> [u8; 512] {
    let mut h = [0u8; 512];
    let put = |h: &mut [u8; 512], at: usize, s: &[u8]| h[at..at + s.len()].copy_from_slice(s);
    put(&mut h, 0, name.as_bytes());
    put(&mut h, 100, b"0000644\0");
    put(&mut h, 108, b"0000000\0");
    put(&mut h, 116, b"0000000\0");
    put(&mut h, 124, format!("{size:011o}\0").as_bytes());
    put(&mut h, 136, b"00000000000\0");
    put(&mut h, 148, b"        ");
    h[156] = b'0';
    put(&mut h, 257, b"ustar\0");
    put(&mut h, 263, b"00");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    put(&mut h, 148, format!("{sum:06o}\0 ").as_bytes());
    h
}

/// Writes one layer (tar of `size` random bytes, gzip-wrapped) and returns
/// its blob and the digest of the uncompressed tar (the config's diff_id).
fn put_layer(dir: &Path, index: usize, size: u64, rng: &mut Rng) -> (Blob, String) {
    let tmp = dir.join(format!("layer-{index}.tmp"));
    let file = BufWriter::with_capacity(1 << 20, File::create(&tmp).expect("create layer"));
    let gz_out = Hashing {
        inner: file,
        hash: Sha256::new(),
        len: 0,
    };
    let gz = flate2::write::GzEncoder::new(gz_out, flate2::Compression::none());
    let mut tar = Hashing {
        inner: gz,
        hash: Sha256::new(),
        len: 0,
    };
    tar.write_all(&tar_header(&format!("layer{index}.bin"), size))
        .expect("write tar");
    let mut buf = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        rng.fill(&mut buf[..n]);
        tar.write_all(&buf[..n]).expect("write layer");
        left -= n as u64;
    }
    let pad = (512 - (size % 512) as usize) % 512;
    tar.write_all(&vec![0u8; pad + 1024])
        .expect("write tar end");
    let diff_id = format!("sha256:{}", hex(&tar.hash.finalize()));
    let mut gz_out = tar.inner.finish().expect("finish gzip");
    gz_out.flush().expect("flush layer");
    let digest = format!("sha256:{}", hex(&gz_out.hash.finalize()));
    let blob = Blob {
        digest,
        size: gz_out.len,
    };
    std::fs::rename(&tmp, blob_path(dir, &blob.digest)).expect("place layer");
    (blob, diff_id)
}

/// Makes an image layout in `dir` with one layer per entry of `sizes`
/// (bytes of random content), tagged `tag`. The same seed gives the same
/// image.
pub fn generate(dir: &Path, tag: &str, sizes: &[u64], seed: u64) -> Image {
    std::fs::create_dir_all(dir.join("blobs").join("sha256")).expect("layout dir");
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)
        .expect("oci-layout");
    let mut rng = Rng(seed);
    let (layers, diff_ids): (Vec<Blob>, Vec<String>) = sizes
        .iter()
        .enumerate()
        .map(|(i, &size)| put_layer(dir, i, size, &mut rng))
        .unzip();
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
    });
    let config = put_blob(dir, config.to_string().as_bytes());
    let descriptor = |media: &str, b: &Blob| serde_json::json!({ "mediaType": media, "digest": b.digest, "size": b.size });
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": descriptor(CONFIG_TYPE, &config),
        "layers": layers.iter().map(|l| descriptor(LAYER_TYPE, l)).collect::<Vec<_>>(),
    });
    let manifest = put_blob(dir, manifest.to_string().as_bytes());
    let mut m = descriptor(MANIFEST_TYPE, &manifest);
    m["annotations"] = serde_json::json!({ "org.opencontainers.image.ref.name": tag });
    let index = serde_json::json!({ "schemaVersion": 2, "manifests": [m] });
    std::fs::write(dir.join("index.json"), index.to_string()).expect("index.json");
    Image {
        dir: dir.to_path_buf(),
        tag: tag.to_owned(),
        manifest,
        config,
        layers,
    }
}

/// sha256 of a file, streamed.
pub fn file_digest(path: &Path) -> std::io::Result<(String, u64)> {
    let mut h = Hashing {
        inner: std::io::sink(),
        hash: Sha256::new(),
        len: 0,
    };
    std::io::copy(&mut File::open(path)?, &mut h)?;
    Ok((format!("sha256:{}", hex(&h.hash.finalize())), h.len))
}

/// Checks that the layout at `dir` (pulled with skopeo) holds `expected`
/// under `tag`: the same manifest naming the same config and layers, and
/// every blob's bytes hashing to its digest.
pub fn verify_pulled(dir: &Path, tag: &str, expected: &Image) -> Result<(), String> {
    let read_json = |p: PathBuf| -> Result<serde_json::Value, String> {
        let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))
    };
    let index = read_json(dir.join("index.json"))?;
    let manifest = index["manifests"]
        .as_array()
        .and_then(|ms| {
            ms.iter()
                .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        })
        .ok_or_else(|| format!("no manifest tagged {tag} in {}", dir.display()))?;
    let digest = manifest["digest"].as_str().unwrap_or_default();
    if digest != expected.manifest.digest {
        return Err(format!(
            "pulled manifest {digest}, pushed {}",
            expected.manifest.digest
        ));
    }
    let m = read_json(blob_path(dir, digest))?;
    let named: Vec<&str> = m["layers"]
        .as_array()
        .map(|ls| ls.iter().filter_map(|l| l["digest"].as_str()).collect())
        .unwrap_or_default();
    let want: Vec<&str> = expected.layers.iter().map(|l| l.digest.as_str()).collect();
    if named != want {
        return Err(format!("pulled layers {named:?}, pushed {want:?}"));
    }
    for blob in std::iter::once(&expected.config).chain(&expected.layers) {
        let (got, size) = file_digest(&blob_path(dir, &blob.digest))
            .map_err(|e| format!("pulled blob {}: {e}", blob.digest))?;
        if got != blob.digest || size != blob.size {
            return Err(format!(
                "pulled blob {} has digest {got} and {size} bytes, pushed {} bytes",
                blob.digest, blob.size
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tar_header_checksum_is_what_tar_expects() {
        let h = tar_header("a.bin", 1000);
        let stored = u32::from_str_radix(
            std::str::from_utf8(&h[148..154])
                .unwrap()
                .trim_start_matches('0'),
            8,
        )
        .unwrap();
        let mut blanked = h;
        blanked[148..156].copy_from_slice(b"        ");
        let sum: u32 = blanked.iter().map(|&b| u32::from(b)).sum();
        assert_eq!(stored, sum);
        assert_eq!(&h[124..136], b"00000001750\0");
    }

    #[test]
    fn a_generated_layout_verifies_and_a_changed_byte_does_not() {
        let dir = crate::tempdir::TempDir::new("oci");
        let img = generate(dir.path(), "1", &[5000, 70_000], 42);
        assert_eq!(img.layers.len(), 2);
        assert!(img.layers[1].size > 70_000);
        verify_pulled(dir.path(), "1", &img).unwrap();
        // Same seed, same image.
        let dir2 = crate::tempdir::TempDir::new("oci");
        let again = generate(dir2.path(), "1", &[5000, 70_000], 42);
        assert_eq!(again.manifest, img.manifest);
        // One flipped byte in a layer is found.
        let p = blob_path(dir.path(), &img.layers[1].digest);
        let mut bytes = std::fs::read(&p).unwrap();
        bytes[40_000] ^= 1;
        std::fs::write(&p, bytes).unwrap();
        let err = verify_pulled(dir.path(), "1", &img).unwrap_err();
        assert!(err.contains(&img.layers[1].digest), "{err}");
    }

    #[test]
    fn the_layer_is_a_gzip_of_a_tar_holding_the_random_bytes() {
        use std::io::Read;
        let dir = crate::tempdir::TempDir::new("oci");
        let img = generate(dir.path(), "t", &[1234], 7);
        let gz = std::fs::read(blob_path(dir.path(), &img.layers[0].digest)).unwrap();
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut tar)
            .unwrap();
        assert_eq!(tar.len(), 512 + 1536 + 1024);
        assert_eq!(&tar[257..263], b"ustar\0");
        assert!(tar[512 + 1234..].iter().all(|&b| b == 0));
    }
}
