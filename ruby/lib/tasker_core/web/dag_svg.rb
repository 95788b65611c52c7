# frozen_string_literal: true

module TaskerCore
  class Web
    # Draws a task's DAG as SVG: dependency levels as columns, a box per step
    # coloured by its state, edges parent → child, the critical path marked
    # (class "critical" on its nodes and edges, a thick outline), and under each
    # step that is not ready the reason. Every text is escaped.
    class DagSvg
      # A step box's width, in pixels.
      NODE_W = 180
      # A step box's height, in pixels.
      NODE_H = 52
      # Horizontal space between two columns (DAG levels), in pixels.
      GAP_X = 70
      # Vertical space between two boxes of a column, in pixels.
      GAP_Y = 22
      # The margin around the drawing, in pixels.
      PAD = 20
      # A box's fill colour, by step state.
      FILL = { "pending" => "#e8edf3", "in_progress" => "#cfe3ff", "complete" => "#cdeccf", "error" => "#f8d0cc",
               "cancelled" => "#e0e0e0", "resolved_manually" => "#e3d7f5" }.freeze
      # A box's outline colour, by step state.
      STROKE = { "pending" => "#8a97a8", "in_progress" => "#2f6fd0", "complete" => "#2e8b3d", "error" => "#c0392b",
                 "cancelled" => "#777777", "resolved_manually" => "#7a4fc0" }.freeze
      # The colour of the critical path's nodes and edges.
      CRITICAL = "#d48806"

      # detail: TaskDetail; analysis: DependencyAnalysis; readiness: [StepReadiness].
      def initialize(detail, analysis, readiness, link: nil)
        @steps = detail.steps
        @levels = analysis.dependency_levels || {}
        @critical = Array(analysis.critical_path)
        @readiness = readiness.to_h { |r| [r.workflow_step_id, r] }
        @link = link
      end

      # @return [String] the SVG markup
      def to_s
        place
        width = PAD * 2 + (@columns.size * (NODE_W + GAP_X)) - GAP_X
        height = PAD * 2 + (@columns.map(&:size).max.to_i * (NODE_H + GAP_Y)) - GAP_Y
        width = [width, NODE_W + PAD * 2].max
        height = [height, NODE_H + PAD * 2].max
        out = +%(<svg xmlns="http://www.w3.org/2000/svg" class="dag" role="img" viewBox="0 0 #{width} #{height}" ) +
              %(width="#{width}" height="#{height}" aria-label="#{h("workflow graph: #{@steps.size} steps")}">)
        out << %(<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="9" markerHeight="9" markerUnits="userSpaceOnUse" ) +
               %(orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#8a97a8"/></marker></defs>)
        @steps.each { |s| s.depends_on.each { |p| out << edge(p, s.workflow_step_id) } }
        @steps.each { |s| out << node(s) }
        out << "</svg>"
      end

      private

      def place
        @columns = []
        @steps.each do |s|
          level = @levels[s.workflow_step_id] || 0
          (@columns[level] ||= []) << s
        end
        @columns.map! { |c| c || [] }
        @pos = {}
        @columns.each_with_index do |col, x|
          col.each_with_index do |s, y|
            @pos[s.workflow_step_id] = [PAD + x * (NODE_W + GAP_X), PAD + y * (NODE_H + GAP_Y)]
          end
        end
      end

      def critical_edge?(from, to)
        i = @critical.index(from)
        i && @critical[i + 1] == to
      end

      def edge(from, to)
        return "" unless @pos[from] && @pos[to]

        x1, y1 = @pos[from]
        x2, y2 = @pos[to]
        x1 += NODE_W
        y1 += NODE_H / 2
        y2 += NODE_H / 2
        mid = (x1 + x2) / 2
        critical = critical_edge?(from, to)
        %(<path class="edge#{' critical' if critical}" data-from="#{from}" data-to="#{to}" ) +
          %(d="M #{x1} #{y1} C #{mid} #{y1}, #{mid} #{y2}, #{x2} #{y2}" fill="none" ) +
          %(stroke="#{critical ? CRITICAL : '#8a97a8'}" stroke-width="#{critical ? 3 : 1.5}" marker-end="url(#arrow)"/>)
      end

      def node(step)
        x, y = @pos[step.workflow_step_id]
        state = step.current_state.to_s
        r = @readiness[step.workflow_step_id]
        critical = @critical.include?(step.workflow_step_id)
        reason = ReasonText.blocked?(r) ? ReasonText.for(r) : nil
        classes = ["node", "state-#{state}", ("critical" if critical), ("not-ready" if reason)].compact.join(" ")
        label = "#{step.name} (#{state}, attempts #{step.attempts}/#{step.retry_limit})#{" — #{reason}" if reason}"
        out = +%(<g class="#{h(classes)}" id="step-node-#{step.workflow_step_id}" data-step-id="#{step.workflow_step_id}" ) +
               %(data-step-name="#{h(step.name)}" data-state="#{h(state)}" data-critical="#{critical}">)
        out << "<title>#{h(label)}</title>"
        out << %(<a href="#{h(@link.call(step))}">) if @link
        out << %(<rect x="#{x}" y="#{y}" width="#{NODE_W}" height="#{NODE_H}" rx="8" fill="#{FILL.fetch(state, '#ffffff')}" ) +
               %(stroke="#{critical ? CRITICAL : STROKE.fetch(state, '#333333')}" stroke-width="#{critical ? 4 : 1.5}"/>)
        out << %(<text x="#{x + 10}" y="#{y + 20}" class="node-name" font-size="13" font-weight="bold" fill="#1d2733">#{h(truncate(step.name, 24))}</text>)
        sub = reason || "#{state.tr('_', ' ')} · #{step.attempts}/#{step.retry_limit}"
        out << %(<text x="#{x + 10}" y="#{y + 39}" class="node-reason" font-size="11" fill="#3b4654">#{h(truncate(sub, 30))}</text>)
        out << "</a>" if @link
        out << "</g>"
      end

      def truncate(text, max)
        text = text.to_s
        text.length > max ? "#{text[0, max - 1]}…" : text
      end

      def h(text)
        ::Rack::Utils.escape_html(text.to_s)
      end
    end
  end
end
