defmodule NamingBench.Original do
  @moduledoc """
  What the workloads ask of a BEAM original: set it up for about `n` names, start a named
  worker its own way, find a name, call through a name, register and unregister a process,
  count the names it holds, and (for groups) join and dispatch. One module per original.
  """
  @callback init(non_neg_integer) :: {:ok, map} | {:error, String.t()}
  @callback start_opts(map, non_neg_integer) :: keyword
  @callback claim(map, non_neg_integer) :: :ok | {:error, term}
  @callback whereis(map, non_neg_integer) :: pid | nil
  @callback call(map, non_neg_integer, integer) :: integer
  @callback register(map, non_neg_integer, pid) :: :ok | {:error, String.t()}
  @callback unregister(map, non_neg_integer, pid) :: :ok | {:error, String.t()}
  @callback count(map) :: non_neg_integer
  @optional_callbacks []

  @doc "The original labelled `label`, or an error saying why there is none."
  def for_label("beam-registry"), do: {:ok, NamingBench.Originals.Registry}
  def for_label("beam-registry-duplicate"), do: {:ok, NamingBench.Originals.DuplicateRegistry}
  def for_label("beam-register"), do: {:ok, NamingBench.Originals.Register}
  def for_label("beam-atoms"), do: {:ok, NamingBench.Originals.Atoms}
  def for_label("beam-kv-registry"), do: {:ok, NamingBench.Originals.KVRegistry}
  def for_label("beam-kv-registry-ets"), do: {:ok, NamingBench.Originals.KVRegistryEts}
  def for_label("beam-startup-discovery"), do: {:ok, NamingBench.Originals.StartupDiscovery}
  def for_label("beam-which-children"), do: {:ok, NamingBench.Originals.WhichChildren}
  def for_label("beam-global"), do: {:ok, NamingBench.Originals.Global}
  def for_label("beam-pg"), do: {:ok, NamingBench.Originals.Pg}
  def for_label("beam-gproc"), do: {:ok, NamingBench.Originals.Gproc}
  def for_label(other), do: {:error, "no BEAM original is labelled #{other}"}

  @doc "A fresh original for about `n` names with a supervisor for its workers."
  def setup(mod, n) do
    with {:ok, ctx} <- mod.init(n) do
      {:ok, sup} =
        if function_exported?(mod, :static_supervisor?, 0) and mod.static_supervisor?() do
          Supervisor.start_link([], strategy: :one_for_one, max_restarts: 1_000_000_000, max_seconds: 1)
        else
          DynamicSupervisor.start_link(strategy: :one_for_one, max_restarts: 1_000_000_000, max_seconds: 1)
        end

      {:ok, Map.put(ctx, :sup, sup)}
    end
  end

  @doc "Starts the named worker `id` under the original's supervisor."
  def start_named(mod, ctx, id) do
    case if(function_exported?(mod, :admit, 2), do: mod.admit(ctx, id), else: :ok) do
      :ok -> start_admitted(mod, ctx, id)
      error -> error
    end
  end

  defp start_admitted(mod, ctx, id) do
    spec = NamingBench.Worker.child_spec({mod, ctx, id})

    result =
      if function_exported?(mod, :static_supervisor?, 0) and mod.static_supervisor?(),
        do: Supervisor.start_child(ctx.sup, spec),
        else: DynamicSupervisor.start_child(ctx.sup, spec)

    case result do
      {:ok, pid} -> {:ok, pid}
      {:error, reason} -> {:error, describe(reason)}
    end
  end

  @doc "Hands the started pids to the original where it needs them (startup discovery)."
  def adopt(mod, ctx, pids) do
    if function_exported?(mod, :adopt, 2), do: mod.adopt(ctx, pids), else: ctx
  end

  @doc "Whether the original has groups (one key, many processes) for fan-out."
  def groups?(mod), do: function_exported?(mod, :dispatch, 3)

  @doc "Stops the original's supervisor and every worker under it."
  def teardown(ctx) do
    Process.unlink(ctx.sup)
    ref = Process.monitor(ctx.sup)
    Process.exit(ctx.sup, :kill)

    receive do
      {:DOWN, ^ref, _, _, _} -> :ok
    after
      5_000 -> :ok
    end

    if stop = ctx[:stop], do: stop.()
    :ok
  end

  def describe({:shutdown, reason}), do: describe(reason)
  def describe({:bad_return_value, v}), do: describe(v)
  def describe(reason) when is_binary(reason), do: reason
  def describe(reason), do: inspect(reason)
end

defmodule NamingBench.Originals.Registry do
  @moduledoc "Elixir's `Registry`, unique keys, one partition per scheduler, `{:via, Registry, {reg, key}}`."
  @behaviour NamingBench.Original

  def init(_n) do
    name = :"naming_bench_registry_#{System.unique_integer([:positive])}"
    {:ok, pid} = Registry.start_link(keys: :unique, name: name, partitions: System.schedulers_online())
    Process.unlink(pid)
    {:ok, %{reg: name, stop: fn -> Process.exit(pid, :shutdown) end}}
  end

  def start_opts(ctx, id), do: [name: {:via, Registry, {ctx.reg, id}}]
  def claim(_ctx, _id), do: :ok

  def whereis(ctx, id) do
    case Registry.whereis_name({ctx.reg, id}) do
      :undefined -> nil
      pid -> pid
    end
  end

  def call(ctx, id, n), do: GenServer.call({:via, Registry, {ctx.reg, id}}, n)

  def register(ctx, id, pid) when pid == self() do
    case Registry.register(ctx.reg, id, nil) do
      {:ok, _} -> :ok
      {:error, reason} -> {:error, inspect(reason)}
    end
  end

  def register(_ctx, _id, _pid), do: {:error, "Registry registers only the calling process"}
  def unregister(ctx, id, _pid), do: Registry.unregister(ctx.reg, id)
  def count(ctx), do: Registry.count(ctx.reg)
  def registers_caller?, do: true
end

defmodule NamingBench.Originals.DuplicateRegistry do
  @moduledoc "Elixir's `Registry` with duplicate keys: workers register themselves in `init`; `Registry.dispatch/3` for groups."
  @behaviour NamingBench.Original

  def init(_n) do
    name = :"naming_bench_dup_#{System.unique_integer([:positive])}"
    {:ok, pid} = Registry.start_link(keys: :duplicate, name: name, partitions: System.schedulers_online())
    Process.unlink(pid)
    {:ok, %{reg: name, stop: fn -> Process.exit(pid, :shutdown) end}}
  end

  def start_opts(_ctx, _id), do: []

  def claim(ctx, id) do
    {:ok, _} = Registry.register(ctx.reg, id, nil)
    :ok
  end

  def whereis(ctx, id) do
    case Registry.lookup(ctx.reg, id) do
      [{pid, _} | _] -> pid
      [] -> nil
    end
  end

  def call(ctx, id, n) do
    case Registry.lookup(ctx.reg, id) do
      [{pid, _} | _] -> GenServer.call(pid, n)
      [] -> exit({:noproc, {__MODULE__, :call, [id]}})
    end
  end

  def register(ctx, id, pid) when pid == self() do
    {:ok, _} = Registry.register(ctx.reg, id, nil)
    :ok
  end

  def register(_ctx, _id, _pid), do: {:error, "Registry registers only the calling process"}
  def unregister(ctx, id, _pid), do: Registry.unregister(ctx.reg, id)
  def count(ctx), do: Registry.count(ctx.reg)
  def registers_caller?, do: true
  def join(ctx, group, pid) when pid == self(), do: register(ctx, {:group, group}, pid)

  def dispatch(ctx, group, msg) do
    me = self()
    tag = make_ref()

    Registry.dispatch(ctx.reg, {:group, group}, fn entries ->
      for {pid, _} <- entries, do: send(pid, msg)
      send(me, {tag, length(entries)})
    end)

    # Registry runs the callback once per partition, each with its own entries.
    sum_counts(tag, 0)
  end

  defp sum_counts(tag, total) do
    receive do
      {^tag, n} -> sum_counts(tag, total + n)
    after
      0 -> total
    end
  end
end

defmodule NamingBench.Originals.Register do
  @moduledoc """
  `Process.register/2` / `:erlang.whereis/1` with a finite declared set of names (atoms
  made once, up front, like `:db_worker_1..N`); ids past the declared set are refused.
  """
  @behaviour NamingBench.Original

  def init(n) do
    limit = declared_limit()

    if n > limit do
      {:error,
       "static names are a fixed set declared up front; #{n} dynamic ids exceed the #{limit} a static table is declared with"}
    else
      names = List.to_tuple(for i <- 0..(limit - 1), do: :"naming_bench_worker_#{i}")
      {:ok, %{names: names}}
    end
  end

  defp declared_limit, do: String.to_integer(System.get_env("NAMING_BENCH_STATIC_LIMIT", "1000"))

  defp name(ctx, id) when id < tuple_size(ctx.names), do: elem(ctx.names, id)
  defp name(_ctx, id), do: throw({:undeclared, id})

  def start_opts(ctx, id), do: [name: name(ctx, id)]

  def admit(ctx, id) do
    if id < tuple_size(ctx.names),
      do: :ok,
      else: {:error, "id #{id} is not in the declared set of #{tuple_size(ctx.names)} static names"}
  end
  def claim(_ctx, _id), do: :ok
  def whereis(ctx, id) when id < tuple_size(ctx.names), do: :erlang.whereis(name(ctx, id)) |> nil_if_undefined()
  def whereis(_ctx, _id), do: nil
  def call(ctx, id, n), do: GenServer.call(name(ctx, id), n)

  def register(ctx, id, pid) do
    if id < tuple_size(ctx.names) do
      try do
        Process.register(pid, name(ctx, id))
        :ok
      rescue
        e -> {:error, Exception.message(e)}
      end
    else
      {:error, "id #{id} is not in the declared set of #{tuple_size(ctx.names)} static names"}
    end
  end

  def unregister(ctx, id, _pid) do
    Process.unregister(name(ctx, id))
    :ok
  end

  def count(ctx) do
    Enum.count(Tuple.to_list(ctx.names), fn n -> :erlang.whereis(n) != :undefined end)
  end

  defp nil_if_undefined(:undefined), do: nil
  defp nil_if_undefined(pid), do: pid
end

defmodule NamingBench.Originals.Atoms do
  @moduledoc "Dynamic atoms: `:\"session_\#{id}\"` made at run time, registered with `Process.register/2`; never freed."
  @behaviour NamingBench.Original

  def init(_n), do: {:ok, %{}}
  def name(id), do: String.to_atom("naming_bench_session_" <> Integer.to_string(id))
  def start_opts(_ctx, id), do: [name: name(id)]
  def claim(_ctx, _id), do: :ok

  def whereis(_ctx, id) do
    case :erlang.whereis(name(id)) do
      :undefined -> nil
      pid -> pid
    end
  end

  def call(_ctx, id, n), do: GenServer.call(name(id), n)

  def register(_ctx, id, pid) do
    Process.register(pid, name(id))
    :ok
  rescue
    e -> {:error, Exception.message(e)}
  end

  def unregister(_ctx, id, _pid) do
    Process.unregister(name(id))
    :ok
  end

  def count(_ctx) do
    Enum.count(Process.registered(), fn n -> String.starts_with?(Atom.to_string(n), "naming_bench_session_") end)
  end

  def atoms?, do: true
end

defmodule NamingBench.KVRegistry do
  @moduledoc """
  The `KV.Registry` GenServer of the Elixir guide: `names` (name -> pid) and `refs`
  (monitor ref -> name); registering monitors the process, `:DOWN` removes both. With
  `ets: true`, the later version: writes still go through the server, lookups read a
  `:protected` named ETS table with `read_concurrency: true`.
  """
  use GenServer

  def start(ets?) do
    table = if ets?, do: :"naming_bench_kv_#{System.unique_integer([:positive])}"
    GenServer.start(__MODULE__, table)
  end

  def lookup(server, _table = nil, name), do: GenServer.call(server, {:lookup, name})

  def lookup(_server, table, name) do
    case :ets.lookup(table, name) do
      [{^name, pid}] -> {:ok, pid}
      [] -> :error
    end
  end

  @impl true
  def init(table) do
    if table, do: :ets.new(table, [:named_table, :protected, read_concurrency: true])
    {:ok, {table, %{}, %{}}}
  end

  @impl true
  def handle_call({:lookup, name}, _from, {_, names, _} = state), do: {:reply, Map.fetch(names, name), state}
  def handle_call(:count, _from, {_, names, _} = state), do: {:reply, map_size(names), state}

  def handle_call({:register, name, pid}, _from, {table, names, refs}) do
    if Map.has_key?(names, name) do
      {:reply, {:error, "#{inspect(name)} is already registered"}, {table, names, refs}}
    else
      ref = Process.monitor(pid)
      if table, do: :ets.insert(table, {name, pid})
      {:reply, :ok, {table, Map.put(names, name, pid), Map.put(refs, ref, name)}}
    end
  end

  def handle_call({:unregister, name, pid}, _from, {table, names, refs}) do
    case Map.fetch(names, name) do
      {:ok, ^pid} ->
        {ref, _} = Enum.find(refs, fn {_, n} -> n == name end)
        Process.demonitor(ref, [:flush])
        if table, do: :ets.delete(table, name)
        {:reply, :ok, {table, Map.delete(names, name), Map.delete(refs, ref)}}

      _ ->
        {:reply, {:error, "not the holder"}, {table, names, refs}}
    end
  end

  @impl true
  def handle_info({:DOWN, ref, :process, _pid, _reason}, {table, names, refs}) do
    {name, refs} = Map.pop(refs, ref)
    if table, do: :ets.delete(table, name)
    {:noreply, {table, Map.delete(names, name), refs}}
  end

  def handle_info(_msg, state), do: {:noreply, state}
end

defmodule NamingBench.Originals.KVRegistry do
  @moduledoc "The `KV.Registry` GenServer with monitors; lookups are calls to it."
  @behaviour NamingBench.Original

  def init(_n), do: start(false)

  def start(ets?) do
    {:ok, server} = NamingBench.KVRegistry.start(ets?)
    table = :sys.get_state(server) |> elem(0)
    {:ok, %{server: server, table: table, stop: fn -> Process.exit(server, :shutdown) end}}
  end

  def start_opts(_ctx, _id), do: []
  def claim(ctx, id), do: register(ctx, id, self())

  def whereis(ctx, id) do
    case NamingBench.KVRegistry.lookup(ctx.server, ctx.table, id) do
      {:ok, pid} -> pid
      :error -> nil
    end
  end

  def call(ctx, id, n) do
    case NamingBench.KVRegistry.lookup(ctx.server, ctx.table, id) do
      {:ok, pid} -> GenServer.call(pid, n)
      :error -> exit({:noproc, {__MODULE__, :call, [id]}})
    end
  end

  def register(ctx, id, pid), do: GenServer.call(ctx.server, {:register, id, pid})
  def unregister(ctx, id, pid), do: GenServer.call(ctx.server, {:unregister, id, pid})
  def count(ctx), do: GenServer.call(ctx.server, :count)
end

defmodule NamingBench.Originals.KVRegistryEts do
  @moduledoc "The `KV.Registry` variant whose lookups read its `:protected` ETS table."
  @behaviour NamingBench.Original
  alias NamingBench.Originals.KVRegistry, as: KV

  def init(_n), do: KV.start(true)
  defdelegate start_opts(ctx, id), to: KV
  defdelegate claim(ctx, id), to: KV
  defdelegate whereis(ctx, id), to: KV
  defdelegate call(ctx, id, n), to: KV
  defdelegate register(ctx, id, pid), to: KV
  defdelegate unregister(ctx, id, pid), to: KV
  defdelegate count(ctx), to: KV
end

defmodule NamingBench.Originals.StartupDiscovery do
  @moduledoc "No registry: each client is handed the workers' pids when it starts (a tuple, by id)."
  @behaviour NamingBench.Original

  def init(_n), do: {:ok, %{handed: {}}}
  def start_opts(_ctx, _id), do: []
  def claim(_ctx, _id), do: :ok
  def adopt(ctx, pids), do: %{ctx | handed: List.to_tuple(pids)}

  def whereis(ctx, id) when id < tuple_size(ctx.handed) do
    pid = elem(ctx.handed, id)
    if Process.alive?(pid), do: pid
  end

  def whereis(_ctx, _id), do: nil
  def call(ctx, id, n), do: GenServer.call(elem(ctx.handed, id), n)
  def register(_ctx, _id, _pid), do: {:error, unsupported("register")}
  def unregister(_ctx, _id, _pid), do: {:error, unsupported("unregister")}
  def count(ctx), do: Enum.count(Tuple.to_list(ctx.handed), &Process.alive?/1)
  def unsupported(op), do: "startup discovery has no #{op}: pids are handed over at start"
  def no_registration?, do: true
end

defmodule NamingBench.Originals.WhichChildren do
  @moduledoc "No registry: a worker is found by scanning `Supervisor.which_children/1` for its child id."
  @behaviour NamingBench.Original

  def init(_n), do: {:ok, %{}}
  def static_supervisor?, do: true
  def start_opts(_ctx, _id), do: []
  def claim(_ctx, _id), do: :ok

  def whereis(ctx, id) do
    Enum.find_value(Supervisor.which_children(ctx.sup), fn
      {^id, pid, _, _} when is_pid(pid) -> pid
      _ -> nil
    end)
  end

  def call(ctx, id, n) do
    case whereis(ctx, id) do
      nil -> exit({:noproc, {__MODULE__, :call, [id]}})
      pid -> GenServer.call(pid, n)
    end
  end

  def register(_ctx, _id, _pid), do: {:error, unsupported("register")}
  def unregister(_ctx, _id, _pid), do: {:error, unsupported("unregister")}
  def count(ctx), do: Supervisor.count_children(ctx.sup).active

  def unsupported(op),
    do: "supervisor-child discovery has no #{op}: a name is a child id given at start"

  def no_registration?, do: true
end

defmodule NamingBench.Originals.Global do
  @moduledoc "`:global` names on a single node (`{:global, name}`), with its registration lock."
  @behaviour NamingBench.Original

  def init(_n), do: {:ok, %{tag: System.unique_integer([:positive])}}
  defp name(ctx, id), do: {:naming_bench, ctx.tag, id}
  def start_opts(ctx, id), do: [name: {:global, name(ctx, id)}]
  def claim(_ctx, _id), do: :ok

  def whereis(ctx, id) do
    case :global.whereis_name(name(ctx, id)) do
      :undefined -> nil
      pid -> pid
    end
  end

  def call(ctx, id, n), do: GenServer.call({:global, name(ctx, id)}, n)

  def register(ctx, id, pid) do
    case :global.register_name(name(ctx, id), pid) do
      :yes -> :ok
      :no -> {:error, "already registered"}
    end
  end

  def unregister(ctx, id, _pid), do: :global.unregister_name(name(ctx, id))

  def count(ctx) do
    Enum.count(:global.registered_names(), fn
      {:naming_bench, tag, _} -> tag == ctx.tag
      _ -> false
    end)
  end
end

defmodule NamingBench.Originals.Pg do
  @moduledoc "`:pg` process groups in a scope of their own: a name is a group of one; groups fan out."
  @behaviour NamingBench.Original

  def init(_n) do
    scope = :"naming_bench_pg_#{System.unique_integer([:positive])}"
    {:ok, pid} = :pg.start_link(scope)
    Process.unlink(pid)
    {:ok, %{scope: scope, stop: fn -> Process.exit(pid, :shutdown) end}}
  end

  def start_opts(_ctx, _id), do: []
  def claim(ctx, id), do: register(ctx, id, self())

  def whereis(ctx, id) do
    case :pg.get_local_members(ctx.scope, id) do
      [pid | _] -> pid
      [] -> nil
    end
  end

  def call(ctx, id, n) do
    case :pg.get_local_members(ctx.scope, id) do
      [pid | _] -> GenServer.call(pid, n)
      [] -> exit({:noproc, {__MODULE__, :call, [id]}})
    end
  end

  def register(ctx, id, pid), do: :pg.join(ctx.scope, id, pid)
  def unregister(ctx, id, pid), do: :pg.leave(ctx.scope, id, pid) |> then(fn _ -> :ok end)
  def count(ctx), do: length(:pg.which_groups(ctx.scope))
  def join(ctx, group, pid), do: :pg.join(ctx.scope, {:group, group}, pid)

  def dispatch(ctx, group, msg) do
    members = :pg.get_local_members(ctx.scope, {:group, group})
    for pid <- members, do: send(pid, msg)
    length(members)
  end
end

defmodule NamingBench.Originals.Gproc do
  @moduledoc """
  gproc unique local names (`{:n, :l, key}`) and properties (`{:p, :l, key}`), when a
  built gproc is on the code path (`NAMING_BENCH_GPROC_EBIN`).
  """
  @behaviour NamingBench.Original

  def available? do
    case System.get_env("NAMING_BENCH_GPROC_EBIN") do
      nil -> {:error, "gproc is not installed: set NAMING_BENCH_GPROC_EBIN to a built gproc ebin directory"}
      "" -> {:error, "gproc is not installed: set NAMING_BENCH_GPROC_EBIN to a built gproc ebin directory"}
      dir ->
        Code.prepend_path(dir)

        case Application.ensure_all_started(:gproc) do
          {:ok, _} -> :ok
          {:error, reason} -> {:error, "gproc from #{dir} did not start: #{inspect(reason)}"}
        end
    end
  end

  def init(_n) do
    with :ok <- available?(), do: {:ok, %{tag: System.unique_integer([:positive])}}
  end

  defp key(ctx, id), do: {:n, :l, {ctx.tag, id}}
  def start_opts(ctx, id), do: [name: {:via, :gproc, key(ctx, id)}]
  def claim(_ctx, _id), do: :ok

  def whereis(ctx, id) do
    case apply(:gproc, :where, [key(ctx, id)]) do
      :undefined -> nil
      pid -> pid
    end
  end

  def call(ctx, id, n), do: GenServer.call({:via, :gproc, key(ctx, id)}, n)

  def register(ctx, id, pid) when pid == self() do
    apply(:gproc, :reg, [key(ctx, id)])
    :ok
  rescue
    e -> {:error, Exception.message(e)}
  end

  def register(_ctx, _id, _pid), do: {:error, "gproc registers only the calling process"}
  def unregister(ctx, id, _pid), do: (apply(:gproc, :unreg, [key(ctx, id)]); :ok)
  def count(ctx), do: length(apply(:gproc, :select, [{:l, :n}, [{{{:n, :l, {ctx.tag, :_}}, :_, :_}, [], [true]}]]))
  def registers_caller?, do: true
  def join(ctx, group, pid) when pid == self(), do: (apply(:gproc, :reg, [{:p, :l, {ctx.tag, :group, group}}]); :ok)

  def dispatch(ctx, group, msg) do
    pids = apply(:gproc, :lookup_pids, [{:p, :l, {ctx.tag, :group, group}}])
    for pid <- pids, do: send(pid, msg)
    length(pids)
  end
end
