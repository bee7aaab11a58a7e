defmodule NamingBench.Workloads.Soak do
  @moduledoc """
  soak: sessions keyed by fresh ids, started the original's own way; a fraction of
  operations end a session and start another under a new id, the rest call a live one.
  After every phase each live session must resolve to its own process and no ended one
  may resolve at all; memory (`:erlang.memory(:total)` since the soak began) and, for
  dynamic atoms, the VM's atom count are recorded, so a leak shows as drift.
  """
  alias NamingBench.{Common, Original, Rows}

  def run(label, mod, p) do
    sessions = Common.int(p, "sessions")
    phases = Common.int(p, "phases")
    ops = Common.int(p, "ops_per_phase")
    replace = Common.num(p, "replace_rate")
    clients = Common.int(p, "clients")
    p0 = [{"sessions", sessions}]

    :erlang.garbage_collect()
    mem0 = :erlang.memory(:total)

    with {:ok, ctx} <- Original.setup(mod, sessions),
         slots = :ets.new(:soak_slots, [:public, :set]),
         next = :atomics.new(1, signed: true),
         :ok <- start_all(mod, ctx, slots, next, sessions) do
      Enum.reduce_while(0..phases, nil, fn phase, first ->
        params = p0 ++ [{"phase", phase}, {"ops", phase * ops}]

        failure =
          if phase > 0,
            do: run_phase(mod, ctx, slots, next, {sessions, ops, replace, clients, phase}),
            else: nil

        if failure do
          Rows.skip(label, "soak", params, failure)
          {:halt, first}
        else
          {:cont, check(label, mod, ctx, slots, next, sessions, params, mem0, first)}
        end
      end)

      pids = for {_, _, pid} <- :ets.tab2list(slots), do: pid
      Common.kill_all(pids)
      Original.teardown(ctx)
    else
      {:error, reason} -> Rows.skip(label, "soak", p0, "cannot start sessions: #{reason}")
    end

    :ok
  end

  defp start_session(mod, ctx, id) do
    if function_exported?(mod, :no_registration?, 0) do
      {:error, mod.unsupported("register")}
    else
      with :ok <- if(function_exported?(mod, :admit, 2), do: mod.admit(ctx, id), else: :ok) do
        case GenServer.start(NamingBench.Worker, {mod, ctx, id}, mod.start_opts(ctx, id)) do
          {:ok, pid} -> {:ok, pid}
          {:error, reason} -> {:error, Original.describe(reason)}
        end
      end
    end
  end

  defp start_all(mod, ctx, slots, next, sessions) do
    Enum.reduce_while(0..(sessions - 1), :ok, fn slot, :ok ->
      id = :atomics.add_get(next, 1, 1) - 1

      case start_session(mod, ctx, id) do
        {:ok, pid} -> :ets.insert(slots, {slot, id, pid}) && {:cont, :ok}
        error -> {:halt, error}
      end
    end)
  end

  # Each client owns the slots congruent to its index, so no two replace one session.
  defp run_phase(mod, ctx, slots, next, {sessions, ops, replace, clients, phase}) do
    Common.in_parallel(clients, fn c ->
      Common.seed(phase * 65_536 + c, 0x50A4)
      mine = for s <- 0..(sessions - 1), rem(s, clients) == c, do: s
      mine = List.to_tuple(mine)

      Enum.reduce_while(0..(div(ops, clients) - 1)//1, nil, fn i, nil ->
        if tuple_size(mine) == 0 do
          {:halt, nil}
        else
          slot = elem(mine, :rand.uniform(tuple_size(mine)) - 1)
          [{^slot, id, pid}] = :ets.lookup(slots, slot)

          if :rand.uniform() < replace do
            Common.kill_all([pid])
            new = :atomics.add_get(next, 1, 1) - 1

            case start_session(mod, ctx, new) do
              {:ok, p} -> :ets.insert(slots, {slot, new, p}) && {:cont, nil}
              {:error, reason} -> {:halt, reason}
            end
          else
            try do
              mod.call(ctx, id, i)
            catch
              :exit, _ -> :failed
            end

            {:cont, nil}
          end
        end
      end)
    end)
    |> Enum.find(&is_binary/1)
  end

  defp check(label, mod, ctx, slots, next, sessions, params, mem0, first) do
    Common.wait_until(5_000, fn -> mod.count(ctx) == sessions end)
    live = :ets.tab2list(slots)
    live_ids = MapSet.new(for {_, id, _} <- live, do: id)
    wrong = Enum.count(live, fn {_, id, pid} -> mod.whereis(ctx, id) != pid end)
    started = :atomics.get(next, 1)
    dead = Enum.count(0..(started - 1), fn id -> not MapSet.member?(live_ids, id) and mod.whereis(ctx, id) != nil end)
    r = &Rows.row(label, "soak", params, &1, &2, &3)
    r.("registered", "count", mod.count(ctx))
    r.("dead_names_left", "count", dead)
    r.("wrong_owner", "count", wrong)
    r.("sessions_started", "count", started)
    :erlang.garbage_collect()
    held = :erlang.memory(:total) - mem0
    Rows.bytes(label, "soak", params, "reading", "live_bytes", "memory held since the soak began", held)
    if function_exported?(mod, :atoms?, 0), do: r.("atom_count", "count", :erlang.system_info(:atom_count))

    if held >= 0 do
      first = first || held
      r.("live_bytes_growth", "bytes", held - first)
      first
    else
      first
    end
  end
end
