# frozen_string_literal: true

module TaskerCore
  class Web
    # The dashboard's ERB templates (views/*.erb), compiled once with Erubi in
    # escaping mode: `<%= value %>` is always HTML-escaped; only `<%== %>`
    # writes raw markup, and the templates use it for markup the app built
    # itself (the SVG, nested templates).
    module View
      # Where the ERB templates live.
      DIR = File.join(__dir__, "views")
      CACHE = {}
      LOCK = Mutex.new
      private_constant :CACHE, :LOCK

      module_function

      # Renders views/+name+.erb with +scope+ as self and +locals+ as methods.
      def render(name, scope, **locals)
        src = compiled(name)
        saved = scope.instance_variable_get(:@_locals)
        scope.instance_variable_set(:@_locals, locals)
        scope.instance_eval(src, File.join(DIR, "#{name}.erb"))
      ensure
        scope.instance_variable_set(:@_locals, saved)
      end

      def compiled(name)
        raise ArgumentError, "bad view name #{name.inspect}" unless name.to_s.match?(/\A[a-z_]+\z/)

        LOCK.synchronize do
          CACHE[name] ||= Erubi::Engine.new(File.read(File.join(DIR, "#{name}.erb")), escape: true).src
        end
      end
    end
  end
end
