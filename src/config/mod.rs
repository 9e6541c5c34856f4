//! Configuration: values for every option of the table in [`options`], read from a Redis-style
//! config file and `--name value` flags, changed by CONFIG SET.
//!
//! Each shard holds its own `Rc<Config>`; CONFIG SET builds a new one and sends it to every
//! shard, so no configuration is shared mutable state.

pub mod options;

use std::path::{Path, PathBuf};

pub use options::{Kind, Opt, OptionDef, OPTIONS};

use crate::util::glob_match;

#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Bool(bool),
    Int(i64),
    Str(String),
    /// Several occurrences of a MULTI option (e.g. one `replicaof` per master).
    List(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct Config {
    values: Vec<Val>,
    /// The config file this process was started with, for CONFIG REWRITE.
    pub file: Option<PathBuf>,
}

/// Parses a size the way Redis's memtoll does.
pub fn parse_memory(s: &str) -> Option<i64> {
    let lower = s.to_ascii_lowercase();
    let (num, mul) = [
        ("gb", 1024 * 1024 * 1024),
        ("mb", 1024 * 1024),
        ("kb", 1024),
        ("g", 1_000_000_000),
        ("m", 1_000_000),
        ("k", 1000),
        ("b", 1),
    ]
    .iter()
    .find(|(u, _)| lower.ends_with(u))
    .map(|(u, m)| (&lower[..lower.len() - u.len()], *m as i64))
    .unwrap_or((&lower[..], 1));
    num.parse::<i64>().ok()?.checked_mul(mul)
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    }
}

/// Checks a textual value against an option's kind; the error is Redis's wording.
pub fn parse_value(def: &OptionDef, raw: &str) -> Result<Val, String> {
    match def.kind {
        Kind::Bool => parse_bool(raw)
            .map(Val::Bool)
            .ok_or_else(|| "argument must be 'yes' or 'no'".to_string()),
        Kind::Int { min, max } => {
            let n: i64 = raw
                .parse()
                .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
            if n < min || n > max {
                return Err(format!(
                    "argument must be between {min} and {max} inclusive"
                ));
            }
            Ok(Val::Int(n))
        }
        Kind::Memory { max } => {
            let n =
                parse_memory(raw).ok_or_else(|| "argument must be a memory value".to_string())?;
            if n < 0 || n > max {
                return Err(format!("argument must be between 0 and {max} inclusive"));
            }
            Ok(Val::Int(n))
        }
        Kind::Enum(choices) => {
            let lower = raw.to_ascii_lowercase();
            if choices.contains(&lower.as_str()) {
                Ok(Val::Str(lower))
            } else {
                Err("argument(s) must be one of the following: ".to_string() + &choices.join(", "))
            }
        }
        Kind::Events => crate::server::notify::parse(raw)
            .map(|f| Val::Str(crate::server::notify::format(f)))
            .ok_or_else(|| "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".to_string()),
        Kind::SavePoints => {
            crate::persist::check_save_points(raw)?;
            Ok(Val::List(if raw.trim().is_empty() {
                vec![]
            } else {
                vec![raw.split_whitespace().collect::<Vec<_>>().join(" ")]
            }))
        }
        Kind::FileName => {
            if raw.contains('/') {
                Err("dbfilename can't be a path, just a filename".to_string())
            } else {
                Ok(Val::Str(raw.to_string()))
            }
        }
        Kind::Str | Kind::Words => {
            if def.flags & options::MULTI != 0 {
                Ok(Val::List(if raw.is_empty() {
                    vec![]
                } else {
                    vec![raw.to_string()]
                }))
            } else {
                Ok(Val::Str(raw.to_string()))
            }
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        let values = OPTIONS
            .iter()
            .map(|d| parse_value(d, d.default).expect("option table default must parse"))
            .collect();
        Config { values, file: None }
    }
}

impl Config {
    pub fn get(&self, o: Opt) -> &Val {
        &self.values[o as usize]
    }

    pub fn int(&self, o: Opt) -> i64 {
        match self.get(o) {
            Val::Int(n) => *n,
            v => panic!("option {} is not an integer: {v:?}", o.def().name),
        }
    }

    pub fn bool(&self, o: Opt) -> bool {
        matches!(self.get(o), Val::Bool(true))
    }

    pub fn str(&self, o: Opt) -> &str {
        match self.get(o) {
            Val::Str(s) => s,
            v => panic!("option {} is not text: {v:?}", o.def().name),
        }
    }

    pub fn list(&self, o: Opt) -> &[String] {
        match self.get(o) {
            Val::List(v) => v,
            v => panic!("option {} is not a list: {v:?}", o.def().name),
        }
    }

    pub fn databases(&self) -> usize {
        self.int(Opt::Databases) as usize
    }

    /// The value as CONFIG GET shows it.
    pub fn display(&self, idx: usize) -> String {
        match &self.values[idx] {
            Val::Bool(b) => if *b { "yes" } else { "no" }.to_string(),
            Val::Int(n) => n.to_string(),
            Val::Str(s) => s.clone(),
            Val::List(v) => v.join(" "),
        }
    }

    /// Sets an option from text. `append` adds to a MULTI option instead of replacing it (a
    /// config file line). Errors carry Redis's reason text.
    pub fn set(&mut self, idx: usize, raw: &str, append: bool) -> Result<(), String> {
        let def = &OPTIONS[idx];
        let v = parse_value(def, raw)?;
        match (&mut self.values[idx], v) {
            // An empty value (`save ""`) clears a list even in a config file.
            (Val::List(cur), Val::List(new)) if append && !new.is_empty() => cur.extend(new),
            (slot, v) => *slot = v,
        }
        Ok(())
    }

    /// CONFIG GET: name/value pairs for every option matching any pattern.
    pub fn matching(&self, patterns: &[&[u8]]) -> Vec<(&'static str, String)> {
        let mut out = vec![];
        for (i, def) in OPTIONS.iter().enumerate() {
            let names = std::iter::once(def.name).chain(def.aliases.iter().copied());
            for name in names {
                if patterns
                    .iter()
                    .any(|p| glob_match(p, name.as_bytes(), true))
                {
                    out.push((name, self.display(i)));
                }
            }
        }
        out
    }

    /// Loads a config file on top of the defaults, as Redis does at startup.
    pub fn load_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.display().to_string(),
            line_no: 0,
            line: String::new(),
            reason: format!(
                "Fatal error, can't open config file '{}': {e}",
                path.display()
            ),
        })?;
        // Absolute, since the server changes into `dir` after loading it.
        self.file = Some(path.canonicalize().unwrap_or_else(|_| path.to_path_buf()));
        self.load_text(&text, &path.display().to_string())
    }

    pub fn load_text(&mut self, text: &str, file: &str) -> Result<(), ConfigError> {
        for (i, line) in text.lines().enumerate() {
            let err = |reason: String| ConfigError {
                file: file.to_string(),
                line_no: i + 1,
                line: line.to_string(),
                reason,
            };
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let words = split_config_line(trimmed)
                .ok_or_else(|| err("Unbalanced quotes in configuration line".into()))?;
            let name = words[0].to_ascii_lowercase();
            if name == "include" {
                if words.len() != 2 {
                    return Err(err("Bad directive or wrong number of arguments".into()));
                }
                let inc = PathBuf::from(&words[1]);
                let text = std::fs::read_to_string(&inc)
                    .map_err(|e| err(format!("Can't open included file: {e}")))?;
                self.load_text(&text, &inc.display().to_string())?;
                continue;
            }
            let Some(idx) = options::lookup(&name) else {
                return Err(err("Bad directive or wrong number of arguments".into()));
            };
            let def = &OPTIONS[idx];
            let multi_word = def.kind.is_words();
            if !multi_word && words.len() != 2 {
                return Err(err("wrong number of arguments".into()));
            }
            let value = words[1..].join(" ");
            self.set(idx, &value, true).map_err(err)?;
        }
        Ok(())
    }
}

/// A config file error, reported as Redis does before exiting.
#[derive(Debug)]
pub struct ConfigError {
    pub file: String,
    pub line_no: usize,
    pub line: String,
    pub reason: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "\n*** FATAL CONFIG FILE ERROR (Tandem {}) ***",
            env!("CARGO_PKG_VERSION")
        )?;
        if self.line_no > 0 {
            writeln!(
                f,
                "Reading the configuration file {}, at line {}",
                self.file, self.line_no
            )?;
            writeln!(f, ">>> '{}'", self.line)?;
        }
        write!(f, "{}", self.reason)
    }
}

/// Splits a config line into words with Redis's quoting rules (the same as inline commands).
pub fn split_config_line(line: &str) -> Option<Vec<String>> {
    let mut buf = line.as_bytes().to_vec();
    let mut spans = vec![];
    buf.push(b'\n');
    let mut b = buf.clone();
    match crate::protocol::parse_command(&mut b, 0, &Default::default(), &mut spans) {
        Ok(crate::protocol::ParseResult::Complete(_)) => Some(
            spans
                .iter()
                .map(|&(s, e)| String::from_utf8_lossy(&b[s as usize..e as usize]).into_owned())
                .collect(),
        ),
        _ => None,
    }
    .filter(|v: &Vec<String>| !v.is_empty())
}

/// CONFIG REWRITE: rewrites the config file in place with the current values, keeping its
/// comments and order, and appending options that differ from their defaults.
pub fn rewrite(cfg: &Config) -> Result<(), String> {
    let Some(path) = &cfg.file else {
        return Err("The server is running without a config file".into());
    };
    let text = std::fs::read_to_string(path).map_err(|e| format!("Rewriting config file: {e}"))?;
    let mut written = vec![false; OPTIONS.len()];
    let mut lines = vec![];
    let line_for = |idx: usize| -> Vec<String> {
        let def = &OPTIONS[idx];
        match cfg.get_index(idx) {
            Val::List(v) => v.iter().map(|x| format!("{} {}", def.name, x)).collect(),
            _ => {
                let v = cfg.display(idx);
                let quoted = if v.is_empty() || (v.contains(' ') && !def.kind.is_words()) {
                    format!("\"{v}\"")
                } else {
                    v
                };
                vec![format!("{} {}", def.name, quoted)]
            }
        }
    };
    for line in text.lines() {
        let words = split_config_line(line.trim());
        let idx = words
            .as_ref()
            .filter(|_| !line.trim_start().starts_with('#'))
            .and_then(|w| options::lookup(&w[0]));
        match idx {
            Some(i) if written[i] => {}
            Some(i) => {
                written[i] = true;
                lines.extend(line_for(i));
            }
            None => lines.push(line.to_string()),
        }
    }
    let defaults = Config::default();
    let mut header = false;
    for (i, done) in written.iter().enumerate() {
        if !done && cfg.get_index(i) != defaults.get_index(i) {
            if !header {
                lines.push("# Generated by CONFIG REWRITE".into());
                header = true;
            }
            lines.extend(line_for(i));
        }
    }
    let tmp = path.with_extension("rewrite.tmp");
    std::fs::write(&tmp, lines.join("\n") + "\n")
        .map_err(|e| format!("Rewriting config file: {e}"))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("Rewriting config file: {e}"))?;
    Ok(())
}

impl Config {
    pub fn get_index(&self, idx: usize) -> &Val {
        &self.values[idx]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("1gb"), Some(1 << 30));
        assert_eq!(parse_memory("512mb"), Some(512 << 20));
        assert_eq!(parse_memory("100k"), Some(100_000));
        assert_eq!(parse_memory("42"), Some(42));
        assert_eq!(parse_memory("x"), None);
    }

    #[test]
    fn file_and_errors() {
        let mut c = Config::default();
        c.load_text(
            "# comment\nport 7000\nrequirepass \"a b\"\nreplicaof 10.0.0.1 6379\nreplicaof 10.0.0.2 6379\nsave 900 1\n",
            "t.conf",
        )
        .unwrap();
        assert_eq!(c.int(Opt::Port), 7000);
        assert_eq!(c.str(Opt::RequirePass), "a b");
        assert_eq!(c.list(Opt::Replicaof), ["10.0.0.1 6379", "10.0.0.2 6379"]);
        let e = c.load_text("port 7000\nbogus 1\n", "t.conf").unwrap_err();
        assert_eq!(e.line_no, 2);
        assert!(e.to_string().contains("Bad directive"));
        let e = c.load_text("maxclients abc\n", "t.conf").unwrap_err();
        assert!(e.reason.contains("integer"));
    }

    #[test]
    fn config_get_globs() {
        let c = Config::default();
        let m = c.matching(&[b"max*"]);
        assert!(m.iter().any(|(n, v)| *n == "maxclients" && v == "10000"));
        assert_eq!(c.matching(&[b"proto-max-bulk-len"])[0].1, "536870912");
    }
}
