defmodule NamingBench.Workloads.Scale do
  @moduledoc """
  scale: N names registered serially and from several tasks (an original that registers
  only its caller, like `Registry`, has each task register its share of keys for itself;
  the others register running processes), timed; in a separate untimed pass the memory
  they take (`:erlang.memory(:total)` difference, the original's tables included); every
  holder killed and the time until the original holds none; N named starts (spawn +
  register + init, the shape of Elixir's own Registry benchmark); register + unregister
  pairs on one process. Timed phases run several rounds; the median round is the figure.
  """
  alias NamingBench.{Common, Original, Rows}

  def run(label, mod, p) do
    tasks = Common.ints(p, "tasks")
    max_starts = Common.int(p, "max_named_starts")
    max_concurrent = Common.int(p, "max_concurrent_size")
    rounds = Common.int(p, "rounds")

    if function_exported?(mod, :no_registration?, 0) do
      reason = mod.unsupported("register")
      for size <- Common.ints(p, "sizes"), do: Rows.skip(label, "scale", [{"names", size}], reason)
      Rows.skip(label, "scale", [{"pairs", Common.int(p, "pairs")}], reason)
    else
      for size <- Common.ints(p, "sizes") do
        bytes_per_name(label, mod, size)

        for t <- tasks, t == 1 or size <= max_concurrent do
          params = [{"names", size}, {"tasks", t}]
          n = if size <= max_concurrent, do: max(rounds, 1), else: 1
          results = for _ <- 1..n, do: round(mod, size, t, size <= max_starts)
          report(label, params, results)
        end
      end

      pairs(label, mod, Common.int(p, "pairs"))
    end

    :ok
  end

  defp report(label, params, results) do
    case Enum.find(results, &match?({:error, _}, &1)) do
      {:error, reason} ->
        Rows.skip(label, "scale", params, reason)

      nil ->
        for {metric, unit} <- [{"register_ns", "ns"}, {"release_all_ns", "ns"}, {"names_left_after_release", "count"}, {"start_named_ns", "ns"}, {"atom_count", "count"}],
            values = for({:ok, m} <- results, v = m[metric], v != nil, do: v),
            values != [] do
          {median, _, _} = Rows.spread(values)
          Rows.row(label, "scale", params, metric, unit, median)
        end
    end
  end

  defp holders(mod, size) do
    if function_exported?(mod, :registers_caller?, 0) and mod.registers_caller?(), do: :self, else: {:spawned, size}
  end

  defp idle, do: spawn(fn -> Process.sleep(:infinity) end)

  # Registers `size` running processes under ids `0..size-1` from `tasks` tasks:
  # {:ok, elapsed_ns, holders} or an error.
  defp register_names(mod, ctx, size, tasks) do
    chunk = div(size + tasks - 1, tasks)
    targets = List.to_tuple(for _ <- 1..size, do: idle())
    start = Rows.now_ns()

    outcomes =
      Common.in_parallel(tasks, fn t ->
        Enum.reduce_while((t * chunk)..(min((t + 1) * chunk, size) - 1)//1, :ok, fn id, :ok ->
          case mod.register(ctx, id, elem(targets, id)) do
            :ok -> {:cont, :ok}
            {:error, reason} -> {:halt, {:error, "register: #{reason}"}}
          end
        end)
      end)

    elapsed = Rows.now_ns() - start
    owners = Tuple.to_list(targets)

    case Enum.find(outcomes, &match?({:error, _}, &1)) do
      nil ->
        {:ok, elapsed, owners}

      error ->
        Common.kill_all(owners)
        error
    end
  end

  defp round(mod, size, tasks, named_starts) do
    with {:ok, ctx} <- Original.setup(mod, size) do
      result = timed_round(mod, ctx, size, tasks, named_starts)
      Original.teardown(ctx)
      result
    end
  end

  defp timed_round(mod, ctx, size, tasks, named_starts) do
    case register_with_holders(mod, ctx, size, tasks) do
      {:error, reason} ->
        {:error, reason}

      {:ok, elapsed, owners} ->
        m = %{"register_ns" => elapsed / size}
        m = if function_exported?(mod, :atoms?, 0), do: Map.put(m, "atom_count", :erlang.system_info(:atom_count)), else: m
        start = Rows.now_ns()
        Common.kill_all(owners)

        m =
          if Common.wait_until(30_000, fn -> mod.count(ctx) == 0 end),
            do: Map.put(m, "release_all_ns", Rows.now_ns() - start),
            else: Map.put(m, "names_left_after_release", mod.count(ctx))

        if named_starts, do: starts(mod, ctx, size, tasks, m), else: {:ok, m}
    end
  end

  # Registration where the registering process must hold the names: each task's share is
  # registered by a process that then stays alive holding them.
  defp register_with_holders(mod, ctx, size, tasks) do
    case holders(mod, size) do
      {:spawned, _} ->
        register_names(mod, ctx, size, tasks)

      :self ->
        chunk = div(size + tasks - 1, tasks)
        me = self()

        holders =
          for t <- 0..(tasks - 1) do
            spawn(fn ->
              receive do
                :go ->
                  ids = (t * chunk)..(min((t + 1) * chunk, size) - 1)//1

                  outcome =
                    Enum.reduce_while(ids, :ok, fn id, :ok ->
                      case mod.register(ctx, id, self()) do
                        :ok -> {:cont, :ok}
                        {:error, reason} -> {:halt, {:error, "register: #{reason}"}}
                      end
                    end)

                  send(me, {self(), outcome, Rows.now_ns()})
                  Process.sleep(:infinity)
              end
            end)
          end

        start = Rows.now_ns()
        Enum.each(holders, &send(&1, :go))

        outcomes =
          for h <- holders do
            receive do
              {^h, outcome, done} -> {outcome, done}
            end
          end

        elapsed = Enum.max(for {_, d} <- outcomes, do: d) - start

        case Enum.find(outcomes, &match?({{:error, _}, _}, &1)) do
          nil ->
            {:ok, elapsed, holders}

          {error, _} ->
            Common.kill_all(holders)
            error
        end
    end
  end

  defp starts(mod, ctx, size, tasks, m) do
    chunk = div(size + tasks - 1, tasks)
    start = Rows.now_ns()

    results =
      Common.in_parallel(tasks, fn t ->
        Enum.reduce_while((t * chunk)..(min((t + 1) * chunk, size) - 1)//1, {[], nil}, fn id, {acc, nil} ->
          case GenServer.start(NamingBench.Worker, {mod, ctx, id}, mod.start_opts(ctx, id)) do
            {:ok, pid} -> {:cont, {[pid | acc], nil}}
            {:error, reason} -> {:halt, {acc, Original.describe(reason)}}
          end
        end)
      end)

    elapsed = Rows.now_ns() - start
    Common.kill_all(Enum.flat_map(results, &elem(&1, 0)))

    case Enum.find_value(results, &elem(&1, 1)) do
      nil -> {:ok, Map.put(m, "start_named_ns", elapsed / size)}
      reason -> {:error, "named start: #{reason}"}
    end
  end

  defp bytes_per_name(label, mod, size) do
    params = [{"names", size}, {"tasks", 1}]
    skip_params = params ++ [{"phase", "bytes_per_name"}]
    # Holders first, then the reading, then the original made and every name registered.
    :erlang.garbage_collect()
    before = :erlang.memory(:total)

    with {:ok, ctx} <- Original.setup(mod, size),
         {:ok, _, owners} <- register_with_holders(mod, ctx, size, 1) do
      after_ = :erlang.memory(:total)
      Common.kill_all(owners)
      Original.teardown(ctx)
      per_name = (after_ - before) / size

      if per_name < 0,
        do: Rows.skip(label, "scale", skip_params, "measurement error: negative bytes per name (#{per_name})"),
        else: Rows.row(label, "scale", params, "bytes_per_name", "bytes", per_name)
    else
      {:error, reason} -> Rows.skip(label, "scale", skip_params, reason)
    end
  end

  defp pairs(label, mod, pairs) do
    params = [{"pairs", pairs}]

    with {:ok, ctx} <- Original.setup(mod, 64) do
      {pid, ref} =
        spawn_monitor(fn ->
          start = Rows.now_ns()

          outcome =
            Enum.reduce_while(0..(pairs - 1)//1, :ok, fn i, :ok ->
              id = rem(i, 64)

              with :ok <- mod.register(ctx, id, self()),
                   :ok <- mod.unregister(ctx, id, self()) do
                {:cont, :ok}
              else
                {:error, reason} -> {:halt, {:error, reason}}
                other -> {:halt, {:error, inspect(other)}}
              end
            end)

          exit({:done, outcome, Rows.now_ns() - start})
        end)

      receive do
        {:DOWN, ^ref, :process, ^pid, {:done, :ok, elapsed}} ->
          Rows.row(label, "scale", params, "register_unregister_ns", "ns", elapsed / pairs)

        {:DOWN, ^ref, :process, ^pid, {:done, {:error, reason}, _}} ->
          Rows.skip(label, "scale", params, reason)

        {:DOWN, ^ref, :process, ^pid, reason} ->
          Rows.skip(label, "scale", params, "the registering process died: #{inspect(reason)}")
      end

      Original.teardown(ctx)
    else
      {:error, reason} -> Rows.skip(label, "scale", params, reason)
    end
  end
end
