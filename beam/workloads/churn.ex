defmodule NamingBench.Workloads.Churn do
  @moduledoc """
  churn: named workers under the original's supervisor; clients offer calls to random
  names at a fixed total rate while a process of its own kills random named workers at a
  fixed rate and the supervisor restarts them under the same name. Every call's outcome
  is counted once; release and re-registration after each kill are timed; after settling
  every name must have exactly one live owner. Memory is `:erlang.memory(:total)`
  differences.
  """
  alias NamingBench.{Common, Original, Rows}

  @counters [:calls, :ok, :noproc, :timeout, :not_found, :stale, :other, :kills]

  def run(label, mod, p) do
    workers = Common.int(p, "workers")
    clients = Common.int(p, "clients")
    call_rate_text = Map.fetch!(p, "call_rate")
    call_rate = Common.num(p, "call_rate")
    duration_ms = Common.int(p, "duration_ms")

    for kill_text <- Common.list(p, "kill_rates") do
      kill_rate = Common.num(%{"k" => kill_text}, "k")

      params = [
        {"workers", workers},
        {"clients", clients},
        {"call_rate", call_rate_text},
        {"kill_rate", kill_text}
      ]

      :erlang.garbage_collect()
      mem0 = :erlang.memory(:total)

      case Common.start_workers(mod, workers) do
        {:error, reason} ->
          Rows.skip(label, "churn", params, reason)

        {:ok, ctx} ->
          bytes_before = :erlang.memory(:total) - mem0
          point(label, mod, ctx, params, {workers, clients, call_rate, kill_rate, duration_ms}, {mem0, bytes_before})
          Original.teardown(ctx)
      end
    end

    :ok
  end

  defp point(label, mod, ctx, params, {workers, clients, call_rate, kill_rate, duration_ms}, {mem0, bytes_before}) do
    tally = :counters.new(length(@counters), [:write_concurrency])
    count = fn name -> :counters.add(tally, index(name), 1) end
    t0 = Rows.now_ns() + 5_000_000
    stop = t0 + duration_ms * 1_000_000
    me = self()

    killer =
      spawn_link(fn ->
        Common.seed(0x0C4A7000, trunc(kill_rate))
        send(me, {:trackers, kill(mod, ctx, workers, kill_rate, t0, stop, count, 0, [], me)})
      end)

    Common.in_parallel(clients, fn c ->
      Common.seed(0xC4A7 + c, workers)
      client(mod, ctx, workers, call_rate / clients, t0, stop, count, 0)
    end)

    secs = (Rows.now_ns() - t0) / 1.0e9

    trackers =
      receive do
        {:trackers, t} -> t
      end

    _ = killer

    timings =
      for {pid, ref} <- trackers do
        receive do
          {^ref, released, rereg} -> {released, rereg}
        after
          5_000 -> Process.exit(pid, :kill) && {nil, nil}
        end
      end

    settled = settle(mod, ctx, workers)

    {unresolved, dead} =
      Enum.reduce(0..(workers - 1), {0, 0}, fn id, {u, d} ->
        found = mod.whereis(ctx, id)
        owner = Common.claimant(id)

        cond do
          found && not Process.alive?(found) -> {u, d + 1}
          owner && found != owner -> {u + 1, d}
          true -> {u, d}
        end
      end)

    duplicates = Common.duplicate_claims()
    # Memory after a further untimed pass: every worker killed once more and restarted.
    Enum.each(0..(workers - 1), fn id ->
      if pid = mod.whereis(ctx, id), do: Process.exit(pid, :kill)
    end)

    # An original that never settled (handed pids go stale) is not waited for again.
    if settled, do: settle(mod, ctx, workers)
    :erlang.garbage_collect()
    bytes_after = :erlang.memory(:total) - mem0

    g = fn name -> :counters.get(tally, index(name)) end
    r = &Rows.row(label, "churn", params, &1, &2, &3)
    calls = g.(:calls)
    kills = g.(:kills)
    r.("ops_per_sec", "ops/s", calls / secs)
    r.("calls", "count", calls)
    r.("kills", "count", kills)
    r.("calls_ok", "count", g.(:ok))
    r.("calls_noproc", "count", g.(:noproc))
    r.("calls_timeout", "count", g.(:timeout))
    r.("calls_not_found", "count", g.(:not_found))
    r.("calls_bad_request", "count", g.(:other))
    r.("stale_deliveries", "count", g.(:stale))
    released = timings |> Enum.map(&elem(&1, 0)) |> Enum.reject(&is_nil/1) |> Enum.sort() |> List.to_tuple()
    rereg = timings |> Enum.map(&elem(&1, 1)) |> Enum.reject(&is_nil/1) |> Enum.sort() |> List.to_tuple()

    if tuple_size(released) > 0 do
      r.("release_p50_ns", "ns", Rows.quantile(released, 0.5))
      r.("release_p99_ns", "ns", Rows.quantile(released, 0.99))
    end

    if tuple_size(rereg) > 0 do
      r.("reregister_p50_ns", "ns", Rows.quantile(rereg, 0.5))
      r.("reregister_p99_ns", "ns", Rows.quantile(rereg, 0.99))
    end

    r.("never_released", "count", Enum.count(timings, &is_nil(elem(&1, 0))))
    r.("never_reregistered", "count", Enum.count(timings, &is_nil(elem(&1, 1))))
    r.("duplicate_owners", "count", duplicates)
    r.("names_unresolved_after", "count", unresolved)
    r.("dead_names_left", "count", dead)
    r.("settled", "count", if(settled, do: 1, else: 0))
    failed_stale = g.(:noproc) + g.(:timeout) + g.(:not_found) + g.(:stale)
    failed = failed_stale + g.(:other)

    if calls > 0 do
      r.("failed_stale_per_call", "fraction", failed_stale / calls)
      r.("failed_per_call", "fraction", failed / calls)
    end

    if kills > 0, do: r.("failed_per_kill", "count", failed / kills)
    Rows.bytes(label, "churn", params, "phase", "bytes_before", "memory of the set-up", bytes_before)
    Rows.bytes(label, "churn", params, "phase", "bytes_after", "memory after a kill of every worker", bytes_after)
  end

  defp index(name), do: Enum.find_index(@counters, &(&1 == name)) + 1

  defp sleep_until(due) do
    left = div(due - Rows.now_ns(), 1_000_000)
    if left > 0, do: Process.sleep(left)
  end

  defp client(mod, ctx, workers, rate, t0, stop, count, i) do
    due = trunc(t0 + i * 1.0e9 / rate)

    if due < stop do
      sleep_until(due)
      id = :rand.uniform(workers) - 1
      count.(:calls)

      outcome =
        case mod.whereis(ctx, id) do
          nil ->
            :not_found

          pid ->
            if Process.alive?(pid) do
              try do
                GenServer.call(pid, i, 5_000)
                :ok
              catch
                :exit, {:noproc, _} -> :noproc
                :exit, {:normal, _} -> :noproc
                :exit, {:killed, _} -> :noproc
                :exit, {:timeout, _} -> :timeout
                :exit, _ -> :other
              end
            else
              :stale
            end
        end

      count.(outcome)
      client(mod, ctx, workers, rate, t0, stop, count, i + 1)
    end
  end

  # Kills on schedule; a name between holders is passed over for another (8 tries).
  defp kill(mod, ctx, workers, kill_rate, t0, stop, count, k, trackers, coordinator) do
    due = trunc(t0 + k * 1.0e9 / kill_rate)

    if kill_rate <= 0 or due >= stop do
      trackers
    else
      sleep_until(due)

      tracker =
        Enum.find_value(1..8, fn _ ->
          id = :rand.uniform(workers) - 1
          pid = mod.whereis(ctx, id)

          if pid && Process.alive?(pid) do
            killed_at = Rows.now_ns()
            Process.exit(pid, :kill)
            count.(:kills)
            track(mod, ctx, id, pid, killed_at, coordinator)
          end
        end)

      kill(mod, ctx, workers, kill_rate, t0, stop, count, k + 1, if(tracker, do: [tracker | trackers], else: trackers), coordinator)
    end
  end

  # Watches one killed name: time until it no longer names the dead pid, and until a new
  # process holds it (2 s at most).
  defp track(mod, ctx, id, old, killed_at, coordinator) do
    ref = make_ref()

    pid =
      spawn(fn ->
        {released, rereg} = watch(mod, ctx, id, old, killed_at, nil)
        send(coordinator, {ref, released, rereg})
      end)

    {pid, ref}
  end

  defp watch(mod, ctx, id, old, killed_at, released) do
    holder = mod.whereis(ctx, id)
    elapsed = Rows.now_ns() - killed_at

    cond do
      holder == old and elapsed < 2_000_000_000 -> :erlang.yield() && watch(mod, ctx, id, old, killed_at, released)
      holder == old -> {released, nil}
      holder == nil and elapsed < 2_000_000_000 -> :erlang.yield() && watch(mod, ctx, id, old, killed_at, released || elapsed)
      holder == nil -> {released || elapsed, nil}
      true -> {released || elapsed, elapsed}
    end
  end

  defp settle(mod, ctx, workers) do
    Common.wait_until(5_000, fn ->
      mod.count(ctx) == workers and
        Enum.all?(0..(workers - 1), fn id ->
          pid = mod.whereis(ctx, id)
          pid != nil and Process.alive?(pid)
        end)
    end)
  end
end
