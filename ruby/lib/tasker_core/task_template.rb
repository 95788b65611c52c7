# frozen_string_literal: true

module TaskerCore
  # A kind of task: its name, namespace and version (the registry's key) and its
  # steps (TaskTemplate::StepTemplate), with the handler class of each.
  #
  #   template = TaskerCore::TaskTemplate.new(
  #     name: "order", namespace: "shop", version: "1.0.0",
  #     steps: [{ name: "validate_cart", handler_class: "Shop::ValidateCart" },
  #             { name: "charge", handler_class: "Shop::Charge", depends_on: ["validate_cart"], retry_limit: 5 }])
  #   template.to_task_spec(context: { "cart_id" => 7 }) # => the spec for Client#create_task
  #
  # Checked when built: step names are unique, depends_on names steps of the
  # template, and the dependencies have no cycle (DependencyCycleError, with
  # details["cycle"] naming the steps as the library does), so a cyclic template
  # is never registered. Handler classes are resolved only when a step runs
  # (HandlerRegistry#handler_class_for), so a template can be registered before
  # its handlers are loaded.
  class TaskTemplate
    # The namespace of a template that names none.
    DEFAULT_NAMESPACE = "default"
    DEFAULT_VERSION = "0.1.0" # the engine's default (REFERENCE §1)

    attr_reader :name, :namespace, :version, :description, :steps

    def initialize(name:, steps:, namespace: DEFAULT_NAMESPACE, version: DEFAULT_VERSION, description: nil)
      @name = name.to_s
      @namespace = (namespace || DEFAULT_NAMESPACE).to_s
      @version = (version || DEFAULT_VERSION).to_s
      raise ArgumentError, "a task template needs a name" if @name.empty?

      @description = description
      @steps = Array(steps).map { |step| StepTemplate.from_h(step) }.freeze
      raise ArgumentError, "task template #{label} has no steps" if @steps.empty?

      check_steps!
      freeze
    end

    # "namespace/name@version", for messages.
    def label
      "#{namespace}/#{name}@#{version}"
    end

    # The registry key.
    def key
      [namespace, name, version].freeze
    end

    # The StepTemplate named +name+, or nil.
    def step(name)
      @steps.find { |s| s.name == name.to_s }
    end

    # @return [Array<String>] the names of the steps, in declaration order
    def step_names
      @steps.map(&:name)
    end

    # The spec for Client#create_task: this template's name, namespace, version
    # and steps, with +context+ and any other task spec fields (initiator:,
    # priority:, correlation_id:, tags:, ...).
    def to_task_spec(context: nil, **options)
      spec = { name: name, namespace: namespace, version: version }
      spec[:description] = description unless description.nil?
      spec[:context] = context unless context.nil?
      spec.merge(options.compact).merge(steps: steps.map(&:to_step_spec))
    end

    # Equal when name, namespace, version, steps and description are.
    # @param other [Object]
    # @return [Boolean]
    def ==(other)
      other.is_a?(TaskTemplate) && other.key == key && other.steps == steps && other.description == description
    end
    alias eql? ==

    # @return [Integer] consistent with #== (name, namespace, version and steps)
    def hash
      [key, steps].hash
    end

    # The template's label and step names.
    # @return [String]
    def inspect
      "#<#{self.class.name} #{label} steps=#{step_names.join(',')}>"
    end

    private

    def check_steps!
      names = step_names
      dup = names.tally.select { |_, n| n > 1 }.keys
      raise ArgumentError, "task template #{label}: duplicate step names #{dup.join(', ')}" unless dup.empty?

      @steps.each do |s|
        missing = s.depends_on - names
        next if missing.empty?

        raise ArgumentError, "task template #{label}: step #{s.name.inspect} depends on unknown " \
                             "step(s) #{missing.join(', ')}"
      end
      check_cycles!
    end

    # Kahn's algorithm (iterative: a template of thousands of steps must not
    # exhaust the stack); the steps it cannot order hold a cycle, which is walked
    # from the first of them along depends_on and reported in edge order
    # (parent -> child), starting at its first step in template order, as the
    # library reports one.
    def check_cycles!
      index = step_names.each_with_index.to_h
      waiting = @steps.to_h { |s| [s.name, s.depends_on.uniq.size] }
      children = Hash.new { |h, k| h[k] = [] }
      @steps.each { |s| s.depends_on.uniq.each { |d| children[d] << s.name } }
      ready = @steps.select { |s| waiting[s.name].zero? }.map(&:name)
      until ready.empty?
        children[ready.pop].each do |child|
          waiting[child] -= 1
          ready << child if waiting[child].zero?
        end
      end
      left = waiting.reject { |_, n| n.zero? }
      return if left.empty?

      raise_cycle(find_cycle(left, index))
    end

    def find_cycle(left, index)
      walk = [step_names.find { |n| left.key?(n) }]
      seen = { walk.first => 0 }
      loop do
        parent = step(walk.last).depends_on.find { |d| left.key?(d) }
        if seen.key?(parent)
          cycle = walk[seen[parent]..].reverse # parent -> child
          first = cycle.each_with_index.min_by { |name, _| index[name] }.last
          return cycle.rotate(first)
        end
        seen[parent] = walk.size
        walk << parent
      end
    end

    def raise_cycle(cycle)
      raise DependencyCycleError.new(
        "task template #{label}: dependency cycle: #{(cycle + [cycle.first]).join(' -> ')}",
        details: { "template" => label, "cycle" => cycle }
      )
    end
  end
end
