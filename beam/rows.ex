defmodule NamingBench.Rows do
  @moduledoc """
  Result rows in the suite's CSV row format (`schema/src/row.rs`), written to stdout one
  per line after a `row ` prefix, and the statistics the workloads share.
  """

  @doc "Writes one measured row: `metric` with `value` at `params` (a list of {k, v})."
  def row(label, workload, params, metric, unit, value) do
    emit(label, workload, params, metric, format_num(value), unit, "", {"", "", "1"})
  end

  @doc """
  Writes one row that is the median of `n` measurements, with their range (`min..max`) as
  its interval (none for a single measurement), as the suite's own rows of repeats.
  """
  def row_over(label, workload, params, metric, unit, {median, min, max}, n) do
    spread = if n > 1, do: {format_num(min), format_num(max), n}, else: {"", "", 1}
    emit(label, workload, params, metric, format_num(median), unit, "", spread)
  end

  @doc "Writes one skip row: `label` cannot be measured at `params`, and why."
  def skip(label, workload, params, reason) do
    emit(label, workload, params, "", "", "", reason, {"", "", "1"})
  end

  defp emit(label, workload, params, metric, value, unit, skipped, {lo, hi, repeats}) do
    fields = [
      "",
      label,
      workload,
      params_text(params),
      metric,
      value,
      lo,
      hi,
      repeats,
      unit,
      skipped
    ]

    IO.write(["row ", Enum.map_join(fields, ",", &escape/1), "\n"])
  end

  @doc """
  A memory reading (bytes) as a row of `metric`; below zero (memory freed outside the
  reading's window landed in it) a skip row at `params` plus `{key, metric}` saying so.
  """
  def bytes(label, workload, params, key, metric, what, bytes) do
    if bytes < 0,
      do: skip(label, workload, params ++ [{key, metric}], "measurement error: #{what} below zero (#{bytes} bytes)"),
      else: row(label, workload, params, metric, "bytes", bytes)
  end

  @doc "Params as `k=v;k=v`, in the order given."
  def params_text(params), do: Enum.map_join(params, ";", fn {k, v} -> "#{k}=#{v}" end)

  defp escape(field) do
    field = to_string(field)

    if String.contains?(field, [",", "\"", "\n"]) do
      "\"" <> String.replace(field, "\"", "\"\"") <> "\""
    else
      field
    end
  end

  defp format_num(v) when is_integer(v), do: Integer.to_string(v)
  defp format_num(v) when is_float(v), do: :erlang.float_to_binary(v, [:short])

  @doc "Median, min and max of a non-empty list of numbers."
  def spread(samples) do
    s = Enum.sort(samples)
    n = length(s)
    t = List.to_tuple(s)

    median =
      if rem(n, 2) == 1,
        do: elem(t, div(n, 2)),
        else: (elem(t, div(n, 2) - 1) + elem(t, div(n, 2))) / 2

    {median, elem(t, 0), elem(t, n - 1)}
  end

  @doc "The value at quantile `q` of a sorted tuple of samples."
  def quantile(sorted, q) do
    n = tuple_size(sorted)
    elem(sorted, min(n - 1, max(0, ceil(q * n) - 1)))
  end

  @doc "Monotonic time in nanoseconds."
  def now_ns, do: :erlang.monotonic_time(:nanosecond)
end
