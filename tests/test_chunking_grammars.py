"""Chunking the languages beyond the first nine: a realistic file each and their test
idioms (broken or deeply nested input: test_chunking_hard_inputs).

The files in ``chunking_samples/`` are written in the style of each language's popular
projects (a Sinatra-like app, a Laravel-like collection, ...); line numbers in the
expectations below are theirs.
"""

from __future__ import annotations

import re
from pathlib import Path

from codequest.chunking import supported_languages
from codequest.discovery.languages import ALL_LANGUAGES, GRAMMAR_WHEELS, TREE_SITTER_LANGUAGES
from helpers import chunk_defs, chunk_sample, inline_defs


def test_every_wheel_has_rules_and_file_extensions() -> None:
    assert supported_languages() == TREE_SITTER_LANGUAGES == frozenset(GRAMMAR_WHEELS)
    assert ALL_LANGUAGES >= TREE_SITTER_LANGUAGES


def test_readme_names_the_parsed_and_the_window_only_languages() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Languages\n", 1)[1].split("\n## ", 1)[0]
    parsed, windows = (
        set(re.findall(r"`([a-z]+)`", section.split(marker, 1)[1].split("\n- ", 1)[0]))
        for marker in ("**Definitions**", "**Lines only**")
    )
    assert parsed == TREE_SITTER_LANGUAGES
    assert windows == ALL_LANGUAGES - TREE_SITTER_LANGUAGES


def test_ruby_modules_classes_and_class_methods() -> None:
    assert chunk_defs(chunk_sample("trellis.rb", "ruby")) == [
        ("module", "Trellis", 6, 6),
        # The comment above a class is kept with it, even where the grammar puts the
        # comment outside the module's body.
        ("class", "Trellis.NotFound", 7, 8),
        ("class", "Trellis.Base", 10, 16),
        # `class << self` and `def self.x` give class methods: no extra name.
        ("method", "Trellis.Base.routes", 17, 20),
        ("method", "Trellis.Base.settings", 22, 24),
        ("method", "Trellis.Base.get", 27, 30),
        ("method", "Trellis.Base.compile", 32, 34),
        ("method", "Trellis.Base.call", 36, 38),
        ("method", "Trellis.Base.call!", 40, 45),
        ("method", "Trellis.Base.dispatch!", 49, 55),
        ("module", "Trellis.Helpers", 58, 62),
        ("class", "Trellis.Application", 65, 69),  # `class Trellis::Application`
    ]


def test_ruby_specs_and_minitest_tests_are_named_by_description() -> None:
    spec = """
        require "minitest/autorun"

        describe Rack::Lint do
          def env(path)
            Rack::MockRequest.env_for(path)
          end

          it "passes a valid request" do
            assert_equal 200, lint_app.call(env("/")).first
          end

          describe "with a body" do
            it "checks each chunk" do
              assert_raises(Rack::Lint::LintError) { body.each {} }
            end
          end
        end

        class RoutingTest < ActiveSupport::TestCase
          test "root is routed" do
            assert_routing "/", controller: "home", action: "index"
          end
        end
        """
    assert inline_defs("ruby", spec, small_class_lines=2) == [
        ("function", "Rack.Lint.env", 4, 6),
        ("function", "Rack.Lint.passes a valid request", 8, 10),
        ("function", "Rack.Lint.with a body.checks each chunk", 13, 15),
        ("class", "RoutingTest", 19, 19),
        ("function", "RoutingTest.root is routed", 20, 22),
    ]


def test_php_namespace_header_prefixes_classes_traits_enums_and_functions() -> None:
    assert chunk_defs(chunk_sample("Collection.php", "php", small_class_lines=10)) == [
        ("interface", "Illuminate.Support.Arrayable", 10, 16),
        ("trait", "Illuminate.Support.Macroable", 18, 26),
        ("enum", "Illuminate.Support.Status", 28, 37),
        ("class", "Illuminate.Support.Collection", 39, 45),
        ("method", "Illuminate.Support.Collection.__construct", 46, 48),
        ("method", "Illuminate.Support.Collection.map", 50, 59),
        ("method", "Illuminate.Support.Collection.toArray", 61, 65),  # from its #[attribute]
        ("method", "Illuminate.Support.Collection.guard", 67, 67),
        ("function", "Illuminate.Support.collect", 70, 76),
    ]


def test_php_braced_namespaces_and_function_exists_guards() -> None:
    text = """
        <?php

        namespace App\\Http {
            class Kernel
            {
                public function handle($request)
                {
                    return $request;
                }
            }
        }

        namespace {
            if (! function_exists('app')) {
                function app($abstract = null)
                {
                    return Container::getInstance();
                }
            }
        }
        """
    assert inline_defs("php", text) == [
        ("class", "App.Http.Kernel", 4, 10),
        ("function", "app", 15, 18),
    ]


def test_csharp_file_scoped_namespace_members_and_properties_with_code() -> None:
    assert chunk_defs(chunk_sample("JObject.cs", "csharp", small_class_lines=10)) == [
        # The header runs from the doc comment and attribute to the first member; the
        # field and the auto-property-free members before it stay in it.
        ("class", "Jsonic.Linq.JObject", 6, 13),
        ("method", "Jsonic.Linq.JObject.JObject", 14, 16),
        ("method", "Jsonic.Linq.JObject.Count", 18, 19),
        ("method", "Jsonic.Linq.JObject.this", 21, 29),
        ("method", "Jsonic.Linq.JObject.Parse", 31, 35),
        ("method", "Jsonic.Linq.JObject.Equals", 37, 37),
        ("class", "Jsonic.Linq.JObject.PropertyComparer", 41, 45),
        ("interface", "Jsonic.Linq.IJsonLineInfo", 48, 51),
        ("struct", "Jsonic.Linq.JsonPosition", 53, 53),  # a record struct
        ("enum", "Jsonic.Linq.JTokenType", 55, 55),
        ("type", "Jsonic.Linq.JsonHandler", 57, 57),  # a delegate
        ("class", "Jsonic.Linq.Extensions", 59, 62),
    ]


def test_csharp_braced_namespace_preprocessor_operators_and_auto_properties() -> None:
    text = """
        namespace Dapper
        {
            public static partial class SqlMapper
            {
        #if NET6_0_OR_GREATER
                public static Task<int> ExecuteAsync(this DbConnection c, string sql) => Run(sql);
        #else
                public static Task<int> ExecuteAsync(this IDbConnection c, string sql) => Run(sql);
        #endif

                public static int CommandTimeout { get; set; }

                public static int ConnectionTimeout
                {
                    get { return _timeout; }
                    set { _timeout = value; }
                }
            }

            public sealed class DbString : IEquatable<DbString>
            {
                public static bool operator ==(DbString? a, DbString? b) => Equals(a, b);
                public static implicit operator string?(DbString? value) => value?.Value;
                ~DbString() { }
            }
        }
        """
    assert inline_defs("csharp", text, small_class_lines=2) == [
        ("class", "Dapper.SqlMapper", 3, 5),
        ("method", "Dapper.SqlMapper.ExecuteAsync", 6, 6),
        ("method", "Dapper.SqlMapper.ExecuteAsync", 8, 8),
        # `CommandTimeout { get; set; }` has no code: not a chunk.
        ("method", "Dapper.SqlMapper.ConnectionTimeout", 13, 17),
        ("class", "Dapper.DbString", 20, 21),
        ("method", "Dapper.DbString.operator ==", 22, 22),
        ("method", "Dapper.DbString.operator string?", 23, 23),
        ("method", "Dapper.DbString.~DbString", 24, 24),
    ]


def test_kotlin_classes_companions_and_extension_functions() -> None:
    assert chunk_defs(chunk_sample("Route.kt", "kotlin", small_class_lines=10)) == [
        ("class", "Route", 6, 17),
        ("method", "Route.createChild", 18, 22),
        ("method", "Route.toString", 24, 24),
        ("method", "Route.root", 29, 29),  # in the companion object: called as Route.root()
        ("class", "Route.Handle", 32, 34),
        ("interface", "RouteSelector", 37, 39),
        ("class", "RootSelector", 41, 43),  # an object
        ("class", "PathSegment", 45, 45),
        ("enum", "Method", 47, 47),
        ("type", "Handler", 49, 49),
        ("method", "Route.get", 51, 52),  # fun Route.get(...)
        ("method", "List.second", 54, 54),  # fun <T : Any> List<T>.second()
    ]


def test_scala_classes_objects_givens_and_extensions() -> None:
    assert chunk_defs(chunk_sample("NonEmptyList.scala", "scala", small_class_lines=5)) == [
        ("class", "NonEmptyList", 6, 8),
        ("method", "NonEmptyList.toList", 9, 9),
        # Scala 3's indented bodies end at the last line of code, not at the next `def`.
        ("method", "NonEmptyList.map", 11, 12),
        ("method", "NonEmptyList.++", 14, 15),
        ("class", "NonEmptyList", 18, 19),  # the companion object
        ("method", "NonEmptyList.of", 20, 20),
        ("method", "NonEmptyList.fromList", 22, 26),
        ("class", "NonEmptyList.Semigroup", 28, 29),  # an anonymous given
        ("trait", "Functor", 32, 33),
        ("method", "Functor.map", 34, 34),
        ("method", "Functor.void", 36, 36),
        ("class", "Validated", 39, 39),
        ("enum", "Ior", 41, 44),
        ("method", "List.toNel", 47, 47),  # extension [A](list: List[A])
        ("type", "ValidatedNel", 49, 49),
        ("function", "traverse", 51, 52),
    ]


def test_scala_munit_tests_and_instances_held_by_vals() -> None:
    text = """
        trait ListInstances {
          implicit val catsStdInstancesForList: Traverse[List] with Monad[List] =
            new Traverse[List] with Monad[List] {
              def pure[A](x: A): List[A] = x :: Nil
            }
        }

        class NonEmptyListSuite extends munit.FunSuite {
          test("map keeps the head") {
            assertEquals(NonEmptyList.of(1, 2).map(_ + 1).head, 2)
          }
        }
        """
    assert inline_defs("scala", text, small_class_lines=2) == [
        ("trait", "ListInstances", 1, 1),
        ("class", "ListInstances.catsStdInstancesForList", 2, 3),
        ("method", "ListInstances.catsStdInstancesForList.pure", 4, 4),
        ("class", "NonEmptyListSuite", 8, 8),
        ("function", "NonEmptyListSuite.map keeps the head", 9, 11),
    ]


def test_swift_types_extensions_initializers_and_computed_properties() -> None:
    assert chunk_defs(chunk_sample("Session.swift", "swift", small_class_lines=10)) == [
        ("interface", "URLRequestConvertible", 3, 6),
        ("class", "Session", 8, 14),
        ("method", "Session.init", 15, 17),
        ("method", "Session.deinit", 19, 21),
        ("method", "Session.request", 23, 30),  # from its doc comment and attribute
        ("method", "Session.isIdle", 32, 34),  # a computed property; stored ones are not
        ("method", "Session.perform", 36, 38),
        ("enum", "HTTPMethod", 41, 46),
        ("struct", "HTTPHeader", 48, 51),
        ("method", "HTTPHeader.authorization", 54, 56),  # extension HTTPHeader
        ("method", "Array.asURLRequest", 60, 60),  # extension Array: ... where ...
        ("function", "validate", 63, 65),
    ]


def test_elixir_modules_function_clauses_and_doc_attributes() -> None:
    assert chunk_defs(chunk_sample("router.ex", "elixir")) == [
        ("module", "Relay.Router", 1, 10),
        ("method", "Relay.Router.__using__", 11, 16),
        ("method", "Relay.Router.get", 18, 24),  # with its @doc and @spec
        ("method", "Relay.Router.call", 26, 29),
        ("method", "Relay.Router.match", 31, 36),  # two clauses, one chunk
        ("method", "Relay.Router.add_route", 38, 42),
        ("method", "Relay.Router.is_method", 44, 44),
        ("module", "Relay.Router.Route", 46, 51),
        ("interface", "Relay.Router.Matchable", 53, 55),
        ("module", "Relay.Router.String.Chars.Route", 57, 59),
    ]


def test_elixir_exunit_tests_and_behaviour_callbacks() -> None:
    text = """
        defmodule Relay.RouterTest do
          use ExUnit.Case, async: true

          describe "match/3" do
            test "routes GET /health" do
              assert Router.match(%Conn{}, "GET", ["health"]).status == 200
            end
          end

          test "halts", do: assert(true)
        end

        defmodule Relay.Adapter do
          @doc "Sends the response."
          @callback send_resp(conn :: Relay.Conn.t(), status :: pos_integer) :: Relay.Conn.t()
          @macrocallback __using__(opts :: keyword) :: Macro.t()
        end
        """
    assert inline_defs("elixir", text, small_class_lines=3) == [
        ("module", "Relay.RouterTest", 1, 4),  # up to its first test
        ("function", "Relay.RouterTest.match/3.routes GET /health", 5, 7),
        ("function", "Relay.RouterTest.halts", 10, 10),
        ("module", "Relay.Adapter", 13, 13),
        ("method", "Relay.Adapter.send_resp", 14, 15),
        ("method", "Relay.Adapter.__using__", 16, 16),
    ]


def test_lua_functions_methods_and_tables_of_functions() -> None:
    assert chunk_defs(chunk_sample("picker.lua", "lua")) == [
        ("method", "Picker.new", 8, 18),  # function Picker:new(), with its ---@ comments
        ("method", "Picker.find", 20, 24),
        ("function", "entry_maker", 26, 28),  # local function
        ("method", "Picker.close", 30, 32),  # Picker.close = function ...
        ("class", "M.pickers", 36, 40),  # a table holding functions
        ("method", "M.setup", 42, 44),
        ("function", "on_attach", 46, 50),  # local on_attach = function ...
        ("method", "utils.nested.deep.fn", 52, 52),
    ]


def test_lua_busted_specs_are_named_by_description() -> None:
    text = """
        describe("Picker", function()
          it("finds a buffer", function()
            assert.is_number(picker.Picker:new({}):find())
          end)

          describe("close", function()
            it("deletes the buffer", function()
              assert.has_no.errors(function() end)
            end)
          end)
        end)
        """
    assert inline_defs("lua", text) == [
        ("function", "Picker.finds a buffer", 2, 4),
        ("function", "Picker.close.deletes the buffer", 7, 9),
    ]


def test_shell_functions_in_every_spelling() -> None:
    assert chunk_defs(chunk_sample("runner.bash", "shell")) == [
        ("function", "die", 9, 13),
        ("function", "bats_require_minimum_version", 15, 20),  # `function name {`
        ("function", "run_test", 22, 32),
        ("function", "trace", 35, 35),  # defined in both branches of an `if`
        ("function", "trace", 37, 37),
        ("function", "cleanup", 40, 42),  # a subshell body
    ]


def test_bats_tests_run_from_their_line_to_the_closing_brace() -> None:
    text = """
        #!/usr/bin/env bats

        load test_helper

        setup() {
          export FIXTURE_ROOT="$BATS_TEST_DIRNAME/fixtures"
        }

        @test "runs a passing test" {
          run bats "$FIXTURE_ROOT/passing.bats"
          [ "$status" -eq 0 ]
        }

        @test "fails" {
          run false
        }
        """
    assert inline_defs("shell", text) == [
        ("function", "setup", 5, 7),
        ("function", "runs a passing test", 9, 12),
        ("function", "fails", 14, 16),
    ]


def test_haskell_signatures_and_equations_are_one_chunk() -> None:
    assert chunk_defs(chunk_sample("Types.hs", "haskell", small_class_lines=3)) == [
        ("type", "Value", 12, 19),  # its haddock sits in the import list before it
        ("type", "Parser", 21, 21),
        ("type", "Pair", 23, 23),
        ("trait", "ToJSON", 25, 26),
        ("method", "ToJSON.toJSON", 27, 27),
        ("method", "ToJSON.toJSONList", 28, 29),  # signature and default, one chunk
        ("type", "ToJSON Bool", 31, 33),
        ("type", "ToJSON [a]", 35, 36),
        ("function", "object", 38, 40),
        ("function", "lookupKey", 42, 45),
        ("function", "isNull", 47, 49),
        ("function", "encode", 51, 57),  # with its `where`
    ]


def test_zig_containers_functions_and_tests() -> None:
    assert chunk_defs(chunk_sample("args.zig", "zig", small_class_lines=5)) == [
        ("struct", "Param", 5, 9),
        ("method", "Param.matches", 10, 13),
        ("enum", "Error", 16, 16),  # an error set
        ("enum", "Kind", 18, 21),
        ("method", "Kind.isFlag", 22, 24),
        ("struct", "Value", 27, 30),  # a union
        ("function", "Parser", 32, 45),  # a generic type is a function
        ("function", "parse", 47, 53),
        ("function", "Param.matches", 55, 58),  # test "Param.matches": not a method
        ("function", "parse", 60, 62),  # test parse
    ]
