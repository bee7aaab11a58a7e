defmodule NamingBench.Workloads.Lookup do
  @moduledoc """
  lookup: `whereis` throughput. Workers named `0..N-1`; clients (processes, released
  together) look up keys drawn uniformly or Zipf until one shared deadline; throughput is
  all lookups over the first start to the last end. Repeats go round-robin over the
  points; a measurement whose clients overlapped for less than 80% of its span is retried
  (up to 5 times), else the point is skipped.
  """
  alias NamingBench.{Common, Original, Rows}

  @min_overlap 0.8
  @extra_attempts 5

  def run(label, mod, p) do
    clients = Common.ints(p, "clients")
    ops = Common.int(p, "ops_per_client")
    max_ms = Common.int(p, "max_client_time_ms")
    repeats = Common.int(p, "repeats")

    for size <- Common.ints(p, "sizes") do
      case Common.start_workers(mod, size) do
        {:error, reason} ->
          Rows.skip(label, "lookup", [{"names", size}], reason)

        {:ok, ctx} ->
          points =
            for dist <- Common.list(p, "dists"), c <- clients do
              {[{"names", size}, {"keys", dist}, {"clients", c}], Common.keys(dist, size, ops, 0xC0FFEE + size), c}
            end

          # One untimed warm-up pass, then the repeats, round-robin.
          for {_, keys, c} <- points, do: attempt(mod, ctx, keys, c, max_ms)

          samples =
            Enum.reduce(1..repeats, %{}, fn _, acc ->
              Enum.reduce(points, acc, fn {params, keys, c}, acc ->
                m = measure(mod, ctx, keys, c, max_ms)
                Map.update(acc, params, [m], &[m | &1])
              end)
            end)

          for {params, _, c} <- points, do: rows(label, params, c, Map.fetch!(samples, params))
          Original.teardown(ctx)
      end
    end

    :ok
  end

  defp rows(label, params, clients, samples) do
    kept = for {:ok, ops, overlap, discarded} <- samples, do: {ops, overlap, discarded}
    discarded = Enum.sum(for s <- samples, do: discarded_of(s))

    cond do
      Enum.any?(samples, &match?({:missed, _}, &1)) ->
        Rows.skip(label, "lookup", params, "a registered name was not found")

      kept == [] ->
        Rows.skip(label, "lookup", params, "clients never ran together for #{round(@min_overlap * 100)}% of a measurement")

      true ->
        {median, min, max} = Rows.spread(for {o, _, _} <- kept, do: o)
        {overlap, _, _} = Rows.spread(for {_, v, _} <- kept, do: v)
        n = length(kept)
        ns = fn ops -> 1.0e9 * clients / ops end
        # The median of the repeats, the slowest and the fastest as its interval.
        Rows.row_over(label, "lookup", params, "ops_per_sec", "ops/s", {median, min, max}, n)
        Rows.row_over(label, "lookup", params, "ns_per_op", "ns", {ns.(median), ns.(max), ns.(min)}, n)
        r = &Rows.row(label, "lookup", params, &1, &2, &3)
        r.("overlap", "fraction", overlap)
        r.("discarded_runs", "count", discarded)
    end
  end

  defp discarded_of({:ok, _, _, d}), do: d
  defp discarded_of({:no_overlap, d}), do: d
  defp discarded_of(_), do: 0

  defp measure(mod, ctx, keys, clients, max_ms, attempt \\ 0) do
    runs = attempt(mod, ctx, keys, clients, max_ms)
    first = Enum.min(for {_, _, s, _} <- runs, do: s)
    last = Enum.max(for {_, _, _, e} <- runs, do: e)
    together = Enum.min(for {_, _, _, e} <- runs, do: e) - Enum.max(for {_, _, s, _} <- runs, do: s)
    span = max(last - first, 1)
    overlap = max(together, 0) / span

    cond do
      not Enum.all?(runs, fn {found_all, _, _, _} -> found_all end) ->
        {:missed, attempt}

      overlap < @min_overlap and attempt < @extra_attempts ->
        case measure(mod, ctx, keys, clients, max_ms, attempt + 1) do
          {:ok, o, v, d} -> {:ok, o, v, d}
          other -> other
        end

      overlap < @min_overlap ->
        {:no_overlap, attempt + 1}

      true ->
        done = Enum.sum(for {_, d, _, _} <- runs, do: d)
        {:ok, done * 1.0e9 / span, overlap, attempt}
    end
  end

  defp attempt(mod, ctx, keys, clients, max_ms) do
    n = tuple_size(keys)
    deadline = :atomics.new(1, signed: true)

    Common.in_parallel(clients, fn c ->
      start = Rows.now_ns()
      # The first client to start sets the deadline shared by all.
      :atomics.compare_exchange(deadline, 1, 0, start + max_ms * 1_000_000)
      stop = :atomics.get(deadline, 1)
      {found, done} = loop(mod, ctx, keys, n, div(c * n, max(clients, 1)), 0, stop, 0)
      {found == done, done, start, Rows.now_ns()}
    end)
  end

  defp loop(mod, ctx, keys, n, offset, i, stop, found) do
    if rem(i, 256) == 0 and Rows.now_ns() >= stop do
      {found, i}
    else
      id = elem(keys, rem(i + offset, n))
      hit = if mod.whereis(ctx, id), do: 1, else: 0
      loop(mod, ctx, keys, n, offset, i + 1, stop, found + hit)
    end
  end
end
