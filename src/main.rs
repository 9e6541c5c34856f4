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
    ring_setup::set_coop_taskrun(cfg.bool(Opt::IoUringCoopTaskrun));
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

/// Sets glommio's io_uring rings up with `IORING_SETUP_COOP_TASKRUN`.
///
/// glommio 0.9 creates its rings with no setup flags and offers no way to pass any. Without
/// this one, a socket poll that completes while the shard runs user code makes the kernel
/// interrupt the shard's CPU (a rescheduling IPI, a VM exit on a VM) to run the completion at
/// once; with it the completion waits for the shard's next system call, which a busy shard
/// makes within microseconds, and a sleeping shard is still woken. Redis's epoll never
/// interrupts a running server either. Measured (tuning.md, "COOP_TASKRUN"): GET -P 16 on
/// missing keys 25 IPIs per 1000 requests -> 0, +30% requests/s.
///
/// The hook: the link wraps liburing's `__sys_io_uring_setup` (build.rs), so every ring glommio
/// sets up goes through `__wrap___sys_io_uring_setup` below, which adds the flag and calls the
/// real function. A kernel older than 5.19 rejects the flag; the ring is then set up without it.
mod ring_setup {
    use std::ffi::{c_int, c_uint};
    use std::sync::atomic::{AtomicBool, Ordering};

    const IORING_SETUP_IOPOLL: u32 = 1 << 0;
    const IORING_SETUP_COOP_TASKRUN: u32 = 1 << 8;

    static COOP_TASKRUN: AtomicBool = AtomicBool::new(false);

    /// The first fields of the kernel's `struct io_uring_params` (stable uapi layout); only
    /// `flags` is touched, through a pointer to the whole struct.
    #[repr(C)]
    pub struct RingParamsHead {
        sq_entries: u32,
        cq_entries: u32,
        flags: u32,
    }

    extern "C" {
        fn __real___sys_io_uring_setup(entries: c_uint, params: *mut RingParamsHead) -> c_int;
    }

    pub fn set_coop_taskrun(on: bool) {
        COOP_TASKRUN.store(on, Ordering::Relaxed);
    }

    /// # Safety
    /// Called by liburing with the arguments of `io_uring_setup(2)`.
    #[no_mangle]
    pub unsafe extern "C" fn __wrap___sys_io_uring_setup(
        entries: c_uint,
        params: *mut RingParamsHead,
    ) -> c_int {
        // SAFETY: liburing passes a valid `io_uring_params`; the real call gets it unchanged
        // apart from the flag.
        unsafe {
            let flags = (*params).flags;
            // The polled-I/O ring completes by polling, not by task work: leave it alone.
            if COOP_TASKRUN.load(Ordering::Relaxed) && flags & IORING_SETUP_IOPOLL == 0 {
                (*params).flags = flags | IORING_SETUP_COOP_TASKRUN;
                let fd = __real___sys_io_uring_setup(entries, params);
                if fd >= 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL) {
                    return fd;
                }
                tracing::warn!("io_uring: the kernel has no IORING_SETUP_COOP_TASKRUN (5.19+); rings interrupt busy shards");
                COOP_TASKRUN.store(false, Ordering::Relaxed);
                (*params).flags = flags;
            }
            __real___sys_io_uring_setup(entries, params)
        }
    }
}
