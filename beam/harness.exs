# The BEAM side of naming-bench: runs the BEAM originals of the suite's strategies
# through the same workloads, at the parameters the Rust side sends, and answers with
# rows in the suite's CSV row format. Run as `elixir beam/harness.exs` (no mix or hex).
#
# Protocol (stdin/stdout, one line each):
#   harness -> `vm <description of this VM: OTP, ERTS, Elixir, schedulers, flags>` (first)
#   rust    -> `run <label> <workload> <k=v;k=v...>`
#   harness -> `row <CSV row>` lines, then `error <reason>` if the run failed, then `end`
#   rust    -> `quit` (or end of input): the node halts.
#
# The modules are compiled here on each start; the Rust side (src/foreign/beam/node.rs)
# compiles them once with `elixirc` instead and starts `elixir -pa <dir> -e
# 'NamingBench.Harness.main()'`, which answers the same way.
for file <- ~w(rows.ex worker.ex originals.ex common.ex
               workloads/lookup.ex workloads/routing.ex workloads/churn.ex
               workloads/scale.ex workloads/fanout.ex workloads/soak.ex harness.ex) do
  Code.require_file(file, __DIR__)
end


NamingBench.Harness.main()
