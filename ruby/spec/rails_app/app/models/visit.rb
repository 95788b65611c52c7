# frozen_string_literal: true

# A row per handler run of the audit workflow (ActiveRecord inside handlers).
class Visit < ApplicationRecord
end
