//! The manifest: which files make up the log, in Redis 7's format (`appendonly.aof.manifest`
//! in `appenddirname`), one line per file:
//!
//! ```text
//! file appendonly.aof.2.base.rdb seq 2 type b
//! file appendonly.aof.3.incr.aof seq 3 type i
//! file appendonly.aof.4.incr.aof seq 4 type i
//! ```
//!
//! The base (`b`, at most one) is an RDB snapshot; the incremental files (`i`) hold records
//! (see [`super::frame`]) and are replayed in order after it. The manifest is replaced whole
//! and atomically (temporary file, fsync, rename, fsync of the directory).

use std::io::Write;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    pub name: String,
    pub seq: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<FileEntry>,
    pub incrs: Vec<FileEntry>,
}

impl Manifest {
    /// Parses a manifest's text.
    pub fn parse(text: &str) -> Result<Manifest, String> {
        let mut m = Manifest::default();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |why: &str| format!("line {}: {why}: {line}", i + 1);
            let words = crate::config::split_config_line(line).ok_or_else(|| bad("bad quoting"))?;
            if words.len() % 2 != 0 {
                return Err(bad("expected key value pairs"));
            }
            let (mut name, mut seq, mut kind) = (None, None, None);
            for kv in words.chunks(2) {
                match kv[0].as_str() {
                    "file" => name = Some(kv[1].clone()),
                    "seq" => seq = Some(kv[1].parse::<u64>().map_err(|_| bad("bad seq"))?),
                    "type" => kind = Some(kv[1].clone()),
                    _ => {}
                }
            }
            let (Some(name), Some(seq), Some(kind)) = (name, seq, kind) else {
                return Err(bad("a file, seq and type are required"));
            };
            if name.contains('/') {
                return Err(bad("a file name may not name a directory"));
            }
            let e = FileEntry { name, seq };
            match kind.as_str() {
                "b" if m.base.is_none() => m.base = Some(e),
                "b" => return Err(bad("more than one base file")),
                "i" => m.incrs.push(e),
                // History files (Redis's "h") are no longer part of the data.
                "h" => {}
                _ => return Err(bad("unknown file type")),
            }
        }
        Ok(m)
    }

    pub fn render(&self) -> String {
        let mut t = String::new();
        let quote = |n: &str| {
            if n.bytes()
                .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\'')
            {
                n.to_string()
            } else {
                format!("{n:?}")
            }
        };
        if let Some(b) = &self.base {
            t += &format!("file {} seq {} type b\n", quote(&b.name), b.seq);
        }
        for i in &self.incrs {
            t += &format!("file {} seq {} type i\n", quote(&i.name), i.seq);
        }
        t
    }

    /// Every file the manifest names, base first.
    pub fn files(&self) -> impl Iterator<Item = &FileEntry> {
        self.base.iter().chain(self.incrs.iter())
    }

    pub fn next_base_seq(&self) -> u64 {
        self.base.as_ref().map_or(0, |b| b.seq) + 1
    }

    pub fn next_incr_seq(&self) -> u64 {
        self.incrs.iter().map(|i| i.seq).max().unwrap_or(0) + 1
    }
}

/// `appendonly.aof.3.base.rdb`
pub fn base_name(prefix: &str, seq: u64) -> String {
    format!("{prefix}.{seq}.base.rdb")
}

/// `appendonly.aof.4.incr.aof`
pub fn incr_name(prefix: &str, seq: u64) -> String {
    format!("{prefix}.{seq}.incr.aof")
}

/// `appendonly.aof.manifest`
pub fn manifest_name(prefix: &str) -> String {
    format!("{prefix}.manifest")
}

/// Replaces the manifest at `path` atomically and durably.
pub fn write(path: &Path, m: &Manifest) -> std::io::Result<()> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("manifest");
    let tmp = path.with_file_name(format!("temp-{name}"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(m.render().as_bytes())?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    sync_dir(path)
}

/// Makes the directory entries of `path`'s directory durable (after a create or rename).
pub fn sync_dir(path: &Path) -> std::io::Result<()> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => std::fs::File::open(dir)?.sync_all(),
        None => std::fs::File::open(".")?.sync_all(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_redis_writes_and_renders_it_back() {
        let text = "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\nfile appendonly.aof.2.incr.aof seq 2 type i\n";
        let m = Manifest::parse(text).unwrap();
        assert_eq!(m.base.as_ref().unwrap().name, "appendonly.aof.1.base.rdb");
        assert_eq!(m.incrs.len(), 2);
        assert_eq!((m.next_base_seq(), m.next_incr_seq()), (2, 3));
        assert_eq!(m.render(), text);
        let h = Manifest::parse("file a.1.base.rdb seq 1 type h\nfile \"my file\" seq 3 type i\n")
            .unwrap();
        assert!(h.base.is_none());
        assert_eq!(h.incrs[0].name, "my file");
        assert_eq!(Manifest::parse(&h.render()).unwrap(), h);
        assert!(Manifest::parse("file x seq 1\n").is_err());
        assert!(Manifest::parse("file ../x seq 1 type i\n").is_err());
        assert!(Manifest::parse("file x seq 1 type b\nfile y seq 2 type b\n").is_err());
    }
}
