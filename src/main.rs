//! The `tandem` binary: `tandem [config-file] [--option value ...]`.

use clap::{Arg, ArgAction, Command};

// mimalloc: size classes that fit small keys and values tightly (a 32-byte value takes 32
// bytes, not glibc's 48) and fast thread-local allocation; see tuning.md.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
use tandem::config::{options, Config, Opt, OPTIONS};

fn cli() -> Command {
    let mut cmd = Command::new("tandem")
        .version(env!("CARGO_PKG_VERSION"))
        .about("A Redis-compatible, thread-per-core, active-active in-memory key-value server")
        .after_help("Every option of a Redis/KeyDB config file can be given as --name value; flags override the file.")
        .arg(Arg::new("config-file").help("Redis-style config file to load first"));
    for def in OPTIONS {
        let mut arg = Arg::new(def.name)
            .long(def.name)
            .num_args(0..)
            .allow_negative_numbers(true)
            .action(ArgAction::Append)
            .value_name("VALUE")
            .help(format!("(default: {:?})", def.default));
        for a in def.aliases {
            arg = arg.alias(*a);
        }
        cmd = cmd.arg(arg);
    }
    cmd
}

/// Builds the configuration: defaults, then the file, then the flags.
fn load_config() -> Result<Config, String> {
    let matches = cli().get_matches();
    let mut cfg = Config::default();
    if let Some(path) = matches.get_one::<String>("config-file") {
        cfg.load_file(std::path::Path::new(path))
            .map_err(|e| e.to_string())?;
    }
    for (idx, def) in OPTIONS.iter().enumerate() {
        let Some(occurrences) = matches.get_occurrences::<String>(def.name) else {
            continue;
        };
        let values: Vec<String> = occurrences
            .map(|words| words.cloned().collect::<Vec<_>>().join(" "))
            .collect();
        if def.flags & options::MULTI == 0 {
            if let Some(v) = values.last() {
                cfg.set(idx, v, false)
                    .map_err(|e| format!("--{} {v}: {e}", def.name))?;
            }
        } else {
            for v in values {
                cfg.set(idx, &v, true)
                    .map_err(|e| format!("--{} {v}: {e}", def.name))?;
            }
        }
    }
    Ok(cfg)
}

fn init_logging(cfg: &Config) {
    let level = match cfg.str(Opt::Loglevel) {
        "debug" => "debug",
        "verbose" => "debug",
        "notice" => "info",
        "warning" => "warn",
        _ => "off",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("tandem={level}")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let logfile = cfg.str(Opt::Logfile);
    if logfile.is_empty() {
        builder.init();
    } else {
        match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(logfile)
        {
            Ok(f) => builder
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(f))
                .init(),
            Err(e) => {
                eprintln!("Can't open the log file: {e}");
                std::process::exit(1);
            }
        }
    }
}

/// mimalloc's `mi_option_purge_delay` (not among libmimalloc-sys's named constants).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() {
    // Give freed memory back to the OS at once: a key table that grows by reallocation would
    // otherwise keep its old copies resident (RSS 218 MB instead of 142 MB for 1 M keys).
    // SAFETY: setting an allocator option before any threads start.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    // No transparent huge pages (as Redis advises): each thread's first allocator segment
    // would otherwise fault in a whole 2 MB page, and an empty server starts at 17 MB
    // resident instead of 5 MB.
    // SAFETY: prctl with constant arguments.
    unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
    let mut cfg = match load_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    init_logging(&cfg);
    // Like Redis: work in `dir`, and report it as an absolute path.
    let dir = cfg.str(Opt::Dir).to_string();
    if let Err(e) = std::env::set_current_dir(&dir) {
        eprintln!("Can't chdir to '{dir}': {e}");
        std::process::exit(1);
    }
    if let Ok(cwd) = std::env::current_dir() {
        let idx = options::lookup("dir").expect("dir option");
        let _ = cfg.set(idx, &cwd.display().to_string(), false);
    }
    let persist = std::sync::Arc::new(tandem::persist::Persistence::new());
    tandem::persist::catch_termination_signals(persist.clone());
    let pidfile = cfg.str(Opt::Pidfile).to_string();
    if !pidfile.is_empty() {
        let _ = std::fs::write(&pidfile, format!("{}\n", std::process::id()));
    }
    if let Err(e) = tandem::server::run(cfg, persist) {
        tracing::error!("{e}");
        eprintln!("{e}");
        std::process::exit(1);
    }
}
