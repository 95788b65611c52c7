# frozen_string_literal: true

require "tasker_core/web"

Rails.application.routes.draw do
  resources :tasks, only: %i[create show]
  # The dashboard, REST API and GraphQL of the gem (an app wraps this in its
  # own authentication; the spec app lets everyone in as the default actor).
  mount TaskerCore::Web => "/tasker"
end
