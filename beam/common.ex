defmodule NamingBench.Common do
  @moduledoc "What the workloads share: request parameters, named workers, random keys, waiting."
  alias NamingBench.Original

  @doc "The integer parameter `key`."
  def int(p, key), do: p |> fetch!(key) |> String.to_integer()

  @doc "The number parameter `key` (integer or float text)."
  def num(p, key) do
    text = fetch!(p, key)

    case Integer.parse(text) do
      {i, ""} -> i * 1.0
      _ -> String.to_float(text)
    end
  end

  @doc "The list parameter `key` (items separated by `,`), as text."
  def list(p, key), do: p |> fetch!(key) |> String.split(",", trim: true)

  @doc "The list parameter `key` as integers."
  def ints(p, key), do: Enum.map(list(p, key), &String.to_integer/1)

  defp fetch!(p, key) do
    case Map.fetch(p, key) do
      {:ok, v} -> v
      :error -> raise ArgumentError, "missing parameter #{key}"
    end
  end


  @doc """
  A fresh original with `n` named workers under its supervisor (ids `0..n-1`), the pids
  handed to it where it needs them; `{:error, reason}` if it cannot hold them.
  """
  def start_workers(mod, n) do
    reset_claims()

    with {:ok, ctx} <- Original.setup(mod, n) do
      Enum.reduce_while(0..(n - 1)//1, {:ok, []}, fn id, {:ok, acc} ->
        case Original.start_named(mod, ctx, id) do
          {:ok, pid} -> {:cont, {:ok, [pid | acc]}}
          {:error, reason} -> {:halt, {:error, "cannot start named workers: #{reason}"}}
        end
      end)
      |> case do
        {:ok, pids} ->
          {:ok, Original.adopt(mod, ctx, Enum.reverse(pids))}

        {:error, reason} ->
          Original.teardown(ctx)
          {:error, reason}
      end
    end
  end

  @doc "Empties (or makes) the table where workers record their claims."
  def reset_claims do
    if :ets.whereis(:naming_bench_claims) == :undefined do
      owner =
        spawn(fn ->
          :ets.new(:naming_bench_claims, [:named_table, :public, :set])
          Process.sleep(:infinity)
        end)

      wait_until(1_000, fn -> :ets.whereis(:naming_bench_claims) != :undefined end)
      _ = owner
    end

    :ets.delete_all_objects(:naming_bench_claims)
    :ets.insert(:naming_bench_claims, {:duplicates, 0})
  end

  @doc "Starts with duplicate claims recorded since the last reset."
  def duplicate_claims do
    case :ets.lookup(:naming_bench_claims, :duplicates) do
      [{_, n}] -> n
      _ -> 0
    end
  end

  @doc "The live claimant of `id`, if any."
  def claimant(id) do
    case :ets.lookup(:naming_bench_claims, id) do
      [{^id, pid}] -> if Process.alive?(pid), do: pid
      _ -> nil
    end
  end

  @doc "Polls `check` until it holds or `limit_ms` pass; whether it held."
  def wait_until(limit_ms, check) do
    deadline = System.monotonic_time(:millisecond) + limit_ms
    poll(deadline, check)
  end

  defp poll(deadline, check) do
    cond do
      check.() -> true
      System.monotonic_time(:millisecond) >= deadline -> false
      true -> Process.sleep(1) && poll(deadline, check)
    end
  end

  @doc "Kills `pids` and waits for each to be gone."
  def kill_all(pids) do
    refs = for pid <- pids, do: {Process.monitor(pid), Process.exit(pid, :kill)}

    for {ref, _} <- refs do
      receive do
        {:DOWN, ^ref, _, _, _} -> :ok
      after
        5_000 -> :ok
      end
    end

    :ok
  end

  @doc "Seeds this process's random numbers."
  def seed(a, b), do: :rand.seed(:exsss, {a + 1, b + 7, 0xBEEF})

  @doc "A tuple of `count` keys in `0..n-1`: uniform, or Zipf (exponent 1) with ranks scattered over ids."
  def keys("uniform", n, count, seed) do
    seed(seed, n)
    List.to_tuple(for _ <- 1..count, do: :rand.uniform(n) - 1)
  end

  def keys("zipf", n, count, seed) do
    seed(seed, n)

    {cdf, total} =
      Enum.map_reduce(1..n, 0.0, fn r, acc ->
        acc = acc + 1.0 / r
        {acc, acc}
      end)

    cdf = List.to_tuple(cdf)

    List.to_tuple(
      for _ <- 1..count do
        u = :rand.uniform() * total
        rank = min(first_at_least(cdf, u, 0, n), n - 1)
        rem(rank * 0x9E3779B9, n)
      end
    )
  end

  defp first_at_least(_cdf, _u, lo, hi) when lo >= hi, do: lo

  defp first_at_least(cdf, u, lo, hi) do
    mid = div(lo + hi, 2)
    if elem(cdf, mid) < u, do: first_at_least(cdf, u, mid + 1, hi), else: first_at_least(cdf, u, lo, mid)
  end

  @doc "Runs `fun.(i)` in `n` processes released together; their results, in order."
  def in_parallel(n, fun) do
    me = self()

    pids =
      for i <- 0..(n - 1) do
        spawn_link(fn ->
          receive do
            :go -> send(me, {self(), fun.(i)})
          end
        end)
      end

    Enum.each(pids, &send(&1, :go))

    for pid <- pids do
      receive do
        {^pid, result} -> result
      end
    end
  end
end
