# frozen_string_literal: true

# Creates and shows Tasker Core tasks: what a Rails app's controller does.
class TasksController < ApplicationController
  def create
    task = TaskerCore.client.create_task_from_template(
      name: params.fetch(:template, "greeting"), namespace: params.fetch(:namespace, "example"), version: "1.0.0",
      context: params.fetch(:context, {}).to_unsafe_h
    )
    render json: { task_id: task.task_id, pid: Process.pid }, status: :created
  rescue TaskerCore::ValidationError => e
    render json: { error: e.message }, status: :unprocessable_entity
  end

  def show
    context = TaskerCore.client.task_execution_context(params[:id]) # a numeric String
    render json: { task_id: context.task_id, status: context.execution_status, pid: Process.pid }
  end
end
