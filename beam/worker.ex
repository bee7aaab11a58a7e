defmodule NamingBench.Worker do
  @moduledoc """
  A named worker: a GenServer answering `n` with `n + 1`. Started by an original's own
  start path (a via tuple, a registered name, a self-registration in `init`), so a
  supervisor restarting it re-registers it exactly as the original would. Each start
  records its claim of the id in the `:naming_bench_claims` table (when present) and
  counts a start under a name another live process still claimed.
  """
  use GenServer

  def start_link({mod, ctx, id}), do: GenServer.start_link(__MODULE__, {mod, ctx, id}, mod.start_opts(ctx, id))

  def child_spec({mod, ctx, id}) do
    %{id: id, start: {__MODULE__, :start_link, [{mod, ctx, id}]}, restart: :permanent}
  end

  @impl true
  def init({mod, ctx, id}) do
    case mod.claim(ctx, id) do
      :ok ->
        record_claim(id)
        {:ok, id}

      {:error, reason} ->
        {:stop, reason}
    end
  end

  @impl true
  def handle_call(n, _from, id) when is_integer(n), do: {:reply, n + 1, id}

  @impl true
  def handle_info(_other, id), do: {:noreply, id}

  defp record_claim(id) do
    if :ets.whereis(:naming_bench_claims) != :undefined do
      case :ets.lookup(:naming_bench_claims, id) do
        [{^id, old}] when old != self() ->
          if Process.alive?(old), do: :ets.update_counter(:naming_bench_claims, :duplicates, 1)

        _ ->
          :ok
      end

      :ets.insert(:naming_bench_claims, {id, self()})
    end
  end
end
