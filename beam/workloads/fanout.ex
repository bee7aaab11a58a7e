defmodule NamingBench.Workloads.Fanout do
  @moduledoc """
  fan-out: M processes join one group (a duplicate `Registry` key, a `:pg` group, a gproc
  property); one dispatch sends to all of them, timed until the last has received it.
  Originals with one process per name skip, saying so.
  """
  alias NamingBench.{Common, Original, Rows}

  def run(label, mod, p) do
    repeats = Common.int(p, "repeats")

    for m <- Common.ints(p, "members") do
      params = [{"members", m}]

      cond do
        not Original.groups?(mod) ->
          Rows.skip(label, "fanout", params, "no duplicate keys or properties: one process per name")

        true ->
          case Original.setup(mod, m) do
            {:error, reason} -> Rows.skip(label, "fanout", params, reason)
            {:ok, ctx} -> measure(label, mod, ctx, params, m, repeats) && Original.teardown(ctx)
          end
      end
    end

    :ok
  end

  defp measure(label, mod, ctx, params, m, repeats) do
    me = self()

    members =
      for _ <- 1..m do
        pid =
          spawn(fn ->
            :ok = mod.join(ctx, 1, self())
            send(me, {:joined, self()})
            member()
          end)

        receive do
          {:joined, ^pid} -> pid
        end
      end

    counter = :atomics.new(1, signed: true)

    results =
      for _ <- 1..repeats do
        :atomics.put(counter, 1, m)
        start = Rows.now_ns()
        sent = mod.dispatch(ctx, 1, {:fanout, counter, self()})

        receive do
          :all_received -> {sent == m, Rows.now_ns() - start}
        after
          10_000 -> {false, nil}
        end
      end

    Common.kill_all(members)
    samples = for {_, t} <- results, t != nil, do: t
    short = Enum.count(results, fn {ok, t} -> not ok or t == nil end)

    if samples == [] do
      Rows.skip(label, "fanout", params, "no dispatch reached every member within 10 s")
    else
      spread = Rows.spread(samples)
      Rows.row_over(label, "fanout", params, "dispatch_all_received_ns", "ns", spread, length(samples))
      Rows.row(label, "fanout", params, "short_dispatches", "count", short)
    end
  end

  defp member do
    receive do
      {:fanout, counter, done} ->
        if :atomics.sub_get(counter, 1, 1) == 0, do: send(done, :all_received)
        member()

      _ ->
        member()
    end
  end
end
