//! What the profiling examples share: their start (arguments, the tokio runtime) and the
//! summary of their measured pairs (a floor beside the runtime's own operation, and their
//! ratio).

/// The parsed options, or the example's exit with the error (status 2).
pub fn options_or_exit<O>(example: &str, parsed: Result<O, String>) -> O {
    parsed.unwrap_or_else(|e| {
        eprintln!("{example}: {e}");
        std::process::exit(2)
    })
}

/// A current-thread tokio runtime, or a multi-thread one with `threads` workers; the
/// example exits (status 1) if it cannot be built.
pub fn tokio_or_exit(
    example: &str,
    current_thread: bool,
    threads: usize,
) -> tokio::runtime::Runtime {
    let built = if current_thread {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    };
    built.unwrap_or_else(|e| {
        eprintln!("{example}: starting tokio: {e}");
        std::process::exit(1)
    })
}

/// `text` as a number, or the argument error.
pub fn number<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    text.parse().map_err(|_| format!("not a number: {text:?}"))
}

/// Per-operation times of the pairs measured so far.
#[derive(Default)]
pub struct Pairs {
    floors: Vec<f64>,
    measured: Vec<f64>,
    ratios: Vec<f64>,
}

impl Pairs {
    /// One pair: the floor's and the measured side's time per operation.
    pub fn push(&mut self, floor: f64, measured: f64) {
        self.floors.push(floor);
        self.measured.push(measured);
        self.ratios.push(measured / floor);
    }

    /// How many pairs.
    #[allow(dead_code)] // Not every example counts its pairs.
    pub fn len(&self) -> usize {
        self.ratios.len()
    }

    /// Prints the medians and the ratio's quartiles.
    pub fn print(mut self) {
        for v in [&mut self.floors, &mut self.measured, &mut self.ratios] {
            v.sort_by(|a, b| a.total_cmp(b));
        }
        let at = |v: &[f64], q: usize| v.get(v.len() * q / 4).copied().unwrap_or(f64::NAN);
        println!(
            "floor {:.0} ns, measured {:.0} ns, ratio median {:.2} (quartiles {:.2}..{:.2}), {} pairs",
            at(&self.floors, 2),
            at(&self.measured, 2),
            at(&self.ratios, 2),
            at(&self.ratios, 1),
            at(&self.ratios, 3),
            self.ratios.len()
        );
    }
}
