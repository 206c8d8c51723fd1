# frozen_string_literal: true

require "rack"
require "json"

module Trellis
  # Raised when no route matches.
  class NotFound < StandardError; end

  # The application base: routes, filters and settings.
  class Base
    include Rack::Utils

    attr_reader :request, :response

    class << self
      # All routes, by verb.
      def routes
        @routes ||= Hash.new { |hash, verb| hash[verb] = [] }
      end

      def settings
        self
      end
    end

    # Adds a GET route.
    def self.get(path, &block)
      routes["GET"] << [compile(path), block]
    end

    def self.compile(path)
      Regexp.new("\\A" + path.gsub(/:(\w+)/, "(?<\\1>[^/]+)") + "\\z")
    end

    def call(env)
      dup.call!(env)
    end

    def call!(env)
      @request = Rack::Request.new(env)
      @response = Rack::Response.new
      dispatch!
      @response.finish
    end

    private

    def dispatch!
      self.class.routes[@request.request_method].each do |pattern, block|
        match = pattern.match(@request.path_info) or next
        return @response.write(instance_exec(*match.captures, &block))
      end
      raise NotFound, @request.path_info
    end
  end

  module Helpers
    def json(value)
      JSON.generate(value)
    end
  end
end

class Trellis::Application < Trellis::Base
  get "/health" do
    "ok"
  end
end
