defmodule NamingBench.Harness do
  @moduledoc "The request loop: one request at a time, each in a process of its own."
  alias NamingBench.Original

  @workloads %{
    "lookup" => NamingBench.Workloads.Lookup,
    "routing" => NamingBench.Workloads.Routing,
    "churn" => NamingBench.Workloads.Churn,
    "scale" => NamingBench.Workloads.Scale,
    "fanout" => NamingBench.Workloads.Fanout,
    "soak" => NamingBench.Workloads.Soak
  }

  def main do
    # Killed workers and registries are the workloads' business, not errors to log.
    Logger.configure(level: :critical)
    IO.puts("vm " <> vm_line())
    loop()
  end

  @doc "This VM in one line: its version banner (OTP, ERTS, schedulers, flavour), Elixir's version and any extra emulator flags."
  def vm_line do
    banner = :erlang.system_info(:system_version) |> to_string() |> String.trim()
    flags = [System.get_env("ERL_FLAGS"), System.get_env("ELIXIR_ERL_OPTIONS")] |> Enum.reject(&(&1 in [nil, ""]))

    "#{banner}; Elixir #{System.version()}; schedulers_online=#{System.schedulers_online()}; " <>
      "extra flags: #{if flags == [], do: "none", else: Enum.join(flags, " ")}"
  end

  defp loop do
    case IO.gets("") do
      :eof -> System.halt(0)
      {:error, _} -> System.halt(0)
      line -> handle(String.trim_trailing(line, "\n")) && loop()
    end
  end

  defp handle("quit"), do: System.halt(0)
  defp handle(""), do: true

  defp handle(line) do
    case String.split(line, " ", parts: 4) do
      ["run", label, workload | rest] -> run(label, workload, parse(List.first(rest, "")))
      _ -> IO.puts("error not a request: #{inspect(line)}")
    end

    IO.puts("end")
    true
  end

  defp parse(text) do
    for kv <- String.split(text, ";", trim: true), into: %{} do
      [k, v] = String.split(kv, "=", parts: 2)
      {k, v}
    end
  end

  defp run(label, workload, params) do
    with {:ok, mod} <- Original.for_label(label),
         {:ok, w} <- Map.fetch(@workloads, workload) |> or_error("no such workload #{workload}") do
      # Loaded before use: the workloads ask which optional functions it has.
      {:module, _} = Code.ensure_loaded(mod)
      {pid, ref} = spawn_monitor(fn -> w.run(label, mod, params) end)

      receive do
        {:DOWN, ^ref, :process, ^pid, :normal} -> :ok
        {:DOWN, ^ref, :process, ^pid, reason} -> IO.puts("error " <> one_line(reason))
      end
    else
      {:error, reason} -> IO.puts("error " <> reason)
    end
  end

  defp or_error(:error, reason), do: {:error, reason}
  defp or_error(ok, _), do: ok

  defp one_line(reason) do
    reason |> Exception.format_exit() |> String.replace(~r/\s+/, " ") |> String.slice(0, 300)
  end
end
