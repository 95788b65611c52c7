# frozen_string_literal: true

module TaskerCore
  # Task templates by namespace, name and version, and the handlers of their
  # steps. Thread-safe. TaskerCore.handler_registry is the process's registry
  # (TaskerCore.register_task adds to it); workers take it unless given another.
  #
  #   registry.register(template)
  #   registry.fetch(name: "order", namespace: "shop", version: "1.0.0") # => TaskTemplate
  #   registry.handler_for(claimed_step)                                   # => a new handler instance
  #
  # A task whose template is not registered here but in the database
  # (Client#register_templates: YAML) runs with the handler_class and
  # handler_config its claimed steps carry (see #handler_for).
  #
  # Handler classes are named by Strings and resolved with Object.const_get each
  # time a step runs, so code reloading and late loading work; a missing
  # constant is a HandlerNotFoundError naming the template and the step.
  class HandlerRegistry
    EMPTY_CONFIG = {}.freeze
    private_constant :EMPTY_CONFIG

    def initialize
      @templates = {}
      @lock = Mutex.new
    end

    # Adds +template+ (a TaskTemplate), replacing one with the same namespace,
    # name and version. → the template
    def register(template)
      raise ArgumentError, "expected a TaskerCore::TaskTemplate, got #{template.class}" unless template.is_a?(TaskTemplate)

      @lock.synchronize { @templates[template.key] = template }
      template
    end

    # Removes a template. → the template or nil
    def unregister(name:, namespace: TaskTemplate::DEFAULT_NAMESPACE, version: TaskTemplate::DEFAULT_VERSION)
      @lock.synchronize { @templates.delete(key(namespace, name, version)) }
    end

    # The template, or nil.
    def find(name:, namespace: TaskTemplate::DEFAULT_NAMESPACE, version: TaskTemplate::DEFAULT_VERSION)
      @lock.synchronize { @templates[key(namespace, name, version)] }
    end

    # The template; TemplateNotFoundError when none is registered.
    def fetch(name:, namespace: TaskTemplate::DEFAULT_NAMESPACE, version: TaskTemplate::DEFAULT_VERSION)
      found = find(name: name, namespace: namespace, version: version)
      return found if found

      raise template_not_found(name, namespace, version)
    end

    # Every registered template.
    def templates
      @lock.synchronize { @templates.values }
    end

    def registered?(name:, namespace: TaskTemplate::DEFAULT_NAMESPACE, version: TaskTemplate::DEFAULT_VERSION)
      !find(name: name, namespace: namespace, version: version).nil?
    end

    # @return [Integer] the number of registered templates
    def size
      @lock.synchronize { @templates.size }
    end

    # Forgets every registered template.
    # @return [void]
    def clear
      @lock.synchronize { @templates.clear }
    end

    # The handler class of step +step_name+ of +template+ (resolved now).
    # HandlerNotFoundError when the step is unknown or its class is not defined
    # or has no #call.
    def handler_class_for(template, step_name)
      step = template.step(step_name)
      if step.nil?
        raise HandlerNotFoundError.new(
          "task template #{template.label} has no step #{step_name.to_s.inspect} " \
          "(its steps: #{template.step_names.join(', ')})",
          details: { "template" => template.label, "step" => step_name.to_s }
        )
      end

      klass = resolve(template, step)
      unless klass.is_a?(Class) && klass.method_defined?(:call)
        raise HandlerNotFoundError.new(
          "handler_class #{step.handler_class_name} of step #{step.name.inspect} in task template " \
          "#{template.label} is not a handler class (a Class with #call(task, sequence, step))",
          details: details(template, step)
        )
      end
      klass
    end

    # A new handler for a claimed step (ClaimedStep, or anything with namespace,
    # task_name, version and step_name), instantiated with config: (the step's
    # handler_config) when its initialize takes that keyword. The handler class
    # is, in this order:
    # - the step's handler_class in the template registered here (Ruby) for the
    #   task's namespace, name and version;
    # - else the claimed step's handler_class (from the task's template registered
    #   in the database, Client#register_templates), with the claimed step's
    #   handler_config.
    # TemplateNotFoundError when neither exists; HandlerNotFoundError when the
    # class cannot be resolved.
    def handler_for(claimed)
      template = find(name: claimed.task_name, namespace: claimed.namespace, version: claimed.version)
      if template
        klass = handler_class_for(template, claimed.step_name)
        return instantiate(klass, template.step(claimed.step_name).handler_config)
      end

      class_name = claimed.respond_to?(:handler_class) ? claimed.handler_class : nil
      if class_name.nil? || class_name.to_s.empty?
        raise template_not_found(claimed.task_name, claimed.namespace, claimed.version,
                                 note: "and the claimed step carries no handler_class from a template in the database")
      end

      config = claimed.respond_to?(:handler_config) ? claimed.handler_config : nil
      instantiate(claimed_handler_class(claimed, class_name.to_s), config || EMPTY_CONFIG)
    end

    private

    def template_not_found(name, namespace, version, note: nil)
      known = templates.map(&:label)
      TemplateNotFoundError.new(
        "no task template is registered for #{namespace}/#{name}@#{version} " \
        "(registered: #{known.empty? ? 'none' : known.join(', ')})#{note ? " #{note}" : ''}",
        details: { "namespace" => namespace.to_s, "name" => name.to_s, "version" => version.to_s }
      )
    end

    # The handler class named by a claimed step (from the database's template).
    def claimed_handler_class(claimed, class_name)
      label = "#{claimed.namespace}/#{claimed.task_name}@#{claimed.version}"
      details = { "template" => label, "step" => claimed.step_name.to_s, "handler_class" => class_name,
                  "source" => "database" }
      begin
        klass = Object.const_get(class_name)
      rescue NameError => e
        raise HandlerNotFoundError.new(
          "handler_class #{class_name} of step #{claimed.step_name.to_s.inspect} in task template #{label} " \
          "(registered in the database) is not defined (#{e.message}); require the file that defines it " \
          "before running the worker",
          details: details
        )
      end
      return klass if klass.is_a?(Class) && klass.method_defined?(:call)

      raise HandlerNotFoundError.new(
        "handler_class #{class_name} of step #{claimed.step_name.to_s.inspect} in task template #{label} " \
        "(registered in the database) is not a handler class (a Class with #call(task, sequence, step))",
        details: details
      )
    end

    def key(namespace, name, version)
      [namespace.to_s, name.to_s, version.to_s]
    end

    def resolve(template, step)
      return step.handler_class if step.handler_class.is_a?(Module)

      Object.const_get(step.handler_class)
    rescue NameError => e
      raise HandlerNotFoundError.new(
        "handler_class #{step.handler_class} of step #{step.name.inspect} in task template #{template.label} " \
        "is not defined (#{e.message}); require the file that defines it before running the worker",
        details: details(template, step)
      )
    end

    def details(template, step)
      { "template" => template.label, "step" => step.name, "handler_class" => step.handler_class_name }
    end

    def instantiate(klass, config)
      params = klass.instance_method(:initialize).parameters
      takes_config = params.any? { |type, name| (%i[key keyreq].include?(type) && name == :config) || type == :keyrest }
      takes_config ? klass.new(config: config) : klass.new
    end
  end
end
