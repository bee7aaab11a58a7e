defmodule NamingBench.Workloads.Routing do
  @moduledoc """
  routing: `GenServer.call` through a name, closed loop (each client waits for its reply)
  and open loop (calls due at a fixed total rate, latency counted from when each was due),
  beside a call to a pid already held, measured right after in this node
  (`ops_vs_direct`).
  """
  alias NamingBench.{Common, Original, Rows}

  def run(label, mod, p) do
    workers = Common.int(p, "workers")
    clients = Common.ints(p, "clients")
    calls = Common.int(p, "calls_per_client")
    rates = Common.list(p, "open_rates")
    duration_ms = Common.int(p, "open_duration_ms")

    case Common.start_workers(mod, workers) do
      {:error, reason} ->
        Rows.skip(label, "routing", [{"workers", workers}], reason)

      {:ok, ctx} ->
        pids = List.to_tuple(for id <- 0..(workers - 1), do: mod.whereis(ctx, id))
        via = fn id, n -> mod.call(ctx, id, n) end
        held = fn id, n -> GenServer.call(elem(pids, id), n) end

        for c <- clients do
          params = [{"workers", workers}, {"clients", c}, {"mode", "closed"}]
          measure(via, workers, c, div(calls, 10), nil)
          {ops, _} = report(label, params, measure(via, workers, c, calls, nil), nil)
          measure(held, workers, c, div(calls, 10), nil)
          {direct, _} = summarise(measure(held, workers, c, calls, nil))

          if ops && direct && direct > 0,
            do: Rows.row(label, "routing", params, "ops_vs_direct", "×", ops / direct)
        end

        c = Enum.max(clients)

        for rate_text <- rates do
          rate = Common.num(%{"r" => rate_text}, "r")
          params = [{"workers", workers}, {"clients", c}, {"mode", "open"}, {"rate", rate_text}]
          per_client = max(1, trunc(rate * duration_ms / 1000 / c))
          report(label, params, measure(via, workers, c, per_client, c / rate * 1.0e9), :open)
        end

        Original.teardown(ctx)
    end

    :ok
  end

  defp summarise(results) do
    first = Enum.min(for r <- results, do: r.start)
    last = Enum.max(for r <- results, do: r.end)
    total = Enum.sum(for r <- results, do: r.calls)
    {total * 1.0e9 / max(last - first, 1), results}
  end

  defp report(label, params, results, mode) do
    {ops, _} = summarise(results)
    lat = results |> Enum.flat_map(& &1.lat) |> Enum.sort() |> List.to_tuple()
    errors = Enum.sum(for r <- results, do: r.errors)
    r = &Rows.row(label, "routing", params, &1, &2, &3)
    r.("ops_per_sec", "ops/s", ops)
    r.("p50_ns", "ns", Rows.quantile(lat, 0.5))
    r.("p99_ns", "ns", Rows.quantile(lat, 0.99))
    r.("p999_ns", "ns", Rows.quantile(lat, 0.999))
    r.("max_ns", "ns", elem(lat, tuple_size(lat) - 1))
    r.("errors", "count", errors)

    if mode == :open do
      lag = results |> Enum.flat_map(& &1.lag) |> Enum.sort() |> List.to_tuple()
      r.("achieved_rate", "1/s", ops)
      r.("pacer_lag_p50_ns", "ns", Rows.quantile(lag, 0.5))
      r.("pacer_lag_p99_ns", "ns", Rows.quantile(lag, 0.99))
    end

    {ops, results}
  end

  # `clients` processes, each making `calls` calls to random workers: back to back
  # (`period_ns` nil) or each due `period_ns` after the last, staggered across clients.
  defp measure(call, workers, clients, calls, period_ns) do
    Common.in_parallel(clients, fn c ->
      Common.seed(0xBEEF + c, workers)
      start = Rows.now_ns()
      offset = if period_ns, do: period_ns * c / clients, else: 0
      {lat, lag, errors} = calls(call, workers, calls, period_ns, start + offset, 0, [], [], 0)
      %{lat: lat, lag: lag, errors: errors, calls: calls, start: start, end: Rows.now_ns()}
    end)
  end

  defp calls(_call, _workers, calls, _period, _t0, i, lat, lag, errors) when i >= calls, do: {lat, lag, errors}

  defp calls(call, workers, calls, period, t0, i, lat, lag, errors) do
    {due, lag} =
      case period do
        nil ->
          {Rows.now_ns(), lag}

        _ ->
          due = trunc(t0 + period * i)
          sent = pace_until(due)
          {due, [max(sent - due, 1) | lag]}
      end

    ok =
      try do
        call.(:rand.uniform(workers) - 1, i) == i + 1
      catch
        :exit, _ -> false
      end

    lat = [max(Rows.now_ns() - due, 1) | lat]
    calls(call, workers, calls, period, t0, i + 1, lat, lag, if(ok, do: errors, else: errors + 1))
  end

  # Sleeps until 2 ms before `due`, then yields until it.
  defp pace_until(due) do
    now = Rows.now_ns()
    left = due - now

    cond do
      left <= 0 -> now
      left > 2_000_000 -> Process.sleep(div(left, 1_000_000) - 1) && pace_until(due)
      true -> :erlang.yield() && pace_until(due)
    end
  end
end
