defmodule Relay.Router do
  @moduledoc """
  Routes requests to controllers.
  """

  alias Relay.Conn
  import Relay.Helpers, only: [put_status: 2]

  @type method :: :get | :post

  defmacro __using__(_opts) do
    quote do
      import Relay.Router
      @before_compile Relay.Router
    end
  end

  @doc """
  Defines a GET route.
  """
  @spec get(String.t(), module(), atom()) :: Macro.t()
  defmacro get(path, controller, action) do
    add_route(:get, path, controller, action)
  end

  @doc false
  def call(%Conn{method: method, path_info: path} = conn, _opts) do
    match(conn, method, path)
  end

  def match(conn, "GET", ["health"]), do: put_status(conn, 200)
  def match(conn, _method, _path) do
    conn
    |> put_status(404)
    |> Conn.halt()
  end

  defp add_route(method, path, controller, action) when is_atom(method) do
    quote do
      @routes {unquote(method), unquote(path), unquote(controller), unquote(action)}
    end
  end

  defguard is_method(m) when m in [:get, :post]

  defmodule Route do
    @moduledoc false
    defstruct [:method, :path, :plug]

    def new(fields), do: struct!(__MODULE__, fields)
  end

  defprotocol Matchable do
    def matches?(route, path)
  end

  defimpl String.Chars, for: Route do
    def to_string(route), do: route.path
  end
end
