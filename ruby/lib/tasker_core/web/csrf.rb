# frozen_string_literal: true

module TaskerCore
  class Web
    # CSRF protection of the dashboard's forms, without a session: a random
    # token in a SameSite=Strict, HttpOnly cookie, repeated in each form as the
    # authenticity_token field; a POST is accepted only when both are present
    # and equal (compared in constant time) and, when the browser sends an
    # Origin header, it is this host's. Another site can neither read the cookie
    # nor make the browser send it. (JSON routes need a JSON body instead,
    # which a cross-site form cannot send.)
    class Csrf
      # The form field that carries the token.
      FIELD = "authenticity_token"
      # Random bytes in a token (hex-encoded: 64 characters).
      TOKEN_BYTES = 32

      def initialize(cookie_name)
        @cookie_name = cookie_name
      end

      attr_reader :cookie_name

      # The request's token, or a new one (set on the response by #persist).
      def token(request)
        existing = request.cookies[@cookie_name]
        valid_format?(existing) ? existing : SecureRandom.hex(TOKEN_BYTES)
      end

      # Sets the token's cookie (HttpOnly, SameSite=Strict, Secure over HTTPS,
      # scoped to the mount path) unless the request already sent it.
      # @param request [Rack::Request]
      # @param headers [Hash] the response headers, changed in place
      # @param token [String] from #token
      # @return [void]
      def persist(request, headers, token)
        return if request.cookies[@cookie_name] == token

        path = request.script_name.to_s.empty? ? "/" : request.script_name
        ::Rack::Utils.set_cookie_header!(headers, @cookie_name,
                                       { value: token, path: path, httponly: true, same_site: :strict,
                                         secure: request.ssl? })
      end

      # Why the POST is refused, or nil when it is accepted.
      def refusal(request)
        origin = request.get_header("HTTP_ORIGIN")
        if origin && !origin.empty? && origin != "null" && origin != request.base_url
          return "the request's Origin (#{origin}) is not this site"
        end

        cookie = request.cookies[@cookie_name]
        sent = request.POST[FIELD]
        return "the form has no CSRF token (reload the page)" unless valid_format?(cookie) && sent.is_a?(String)
        return "the CSRF token does not match (reload the page)" unless ::Rack::Utils.secure_compare(cookie, sent)

        nil
      end

      private

      def valid_format?(token)
        token.is_a?(String) && token.match?(/\A\h{#{TOKEN_BYTES * 2}}\z/o)
      end
    end
  end
end
