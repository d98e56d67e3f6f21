/* Stripe.js-compatible shim served by the paylive Stripe emulator.
 * Supports Stripe(pk).elements().create('card'), confirmCardPayment, confirmCardSetup,
 * handleCardAction, handleNextAction, retrievePaymentIntent and retrieveSetupIntent,
 * talking to the emulator at BASE. */
(function () {
  "use strict";
  var BASE = "__EMULATOR_BASE__";

  function encode(value, prefix, out) {
    if (value === null || value === undefined) return out;
    if (typeof value === "object") {
      Object.keys(value).forEach(function (k) {
        encode(value[k], prefix ? prefix + "[" + k + "]" : k, out);
      });
    } else {
      out.push(encodeURIComponent(prefix) + "=" + encodeURIComponent(String(value)));
    }
    return out;
  }

  function call(key, method, path, params) {
    var init = { method: method, headers: { Authorization: "Bearer " + key } };
    var query = encode(params || {}, "", []).join("&");
    if (method === "POST") {
      init.headers["Content-Type"] = "application/x-www-form-urlencoded";
      init.body = query;
    } else if (query) {
      path += "?" + query;
    }
    return fetch(BASE + path, init).then(function (r) {
      return r.json().then(function (body) { return { ok: r.ok, body: body }; });
    });
  }

  function CardElement() {
    this._handlers = {};
    this._root = null;
  }
  CardElement.prototype.mount = function (target) {
    var el = typeof target === "string" ? document.querySelector(target) : target;
    if (!el) throw new Error("mount: no element matches " + target);
    el.innerHTML =
      '<span class="StripeElement" style="display:flex;gap:.5rem">' +
      '<input name="cardnumber" autocomplete="cc-number" inputmode="numeric" placeholder="Card number" style="flex:3">' +
      '<input name="exp-date" autocomplete="cc-exp" placeholder="MM / YY" style="flex:1">' +
      '<input name="cvc" autocomplete="cc-csc" inputmode="numeric" placeholder="CVC" style="flex:1">' +
      "</span>";
    this._root = el;
    var self = this;
    el.addEventListener("input", function () { self._emit("change", self._state()); });
  };
  CardElement.prototype._field = function (name) {
    var input = this._root && this._root.querySelector('input[name="' + name + '"]');
    return input ? input.value.replace(/\s+/g, "") : "";
  };
  CardElement.prototype._state = function () {
    var number = this._field("cardnumber");
    var complete = number.length >= 12 && /^\d{2}\/?\d{2}$/.test(this._field("exp-date")) &&
      this._field("cvc").length >= 3;
    return { elementType: "card", empty: number === "", complete: complete, error: undefined,
      brand: number.charAt(0) === "4" ? "visa" : number.charAt(0) === "5" ? "mastercard" : "unknown" };
  };
  CardElement.prototype.on = function (event, cb) {
    (this._handlers[event] = this._handlers[event] || []).push(cb);
    return this;
  };
  CardElement.prototype._emit = function (event, payload) {
    (this._handlers[event] || []).forEach(function (cb) { cb(payload); });
  };
  CardElement.prototype.unmount = function () { if (this._root) this._root.innerHTML = ""; };
  CardElement.prototype.destroy = CardElement.prototype.unmount;
  CardElement.prototype.clear = function () {
    if (this._root) this._root.querySelectorAll("input").forEach(function (i) { i.value = ""; });
  };
  CardElement.prototype.focus = function () {
    var input = this._root && this._root.querySelector("input");
    if (input) input.focus();
  };
  CardElement.prototype._card = function () {
    var exp = this._field("exp-date").split("/");
    return { number: this._field("cardnumber"), exp_month: exp[0], exp_year: exp[1], cvc: this._field("cvc") };
  };

  // Show the emulator's 3-D Secure page in an overlay iframe and wait for its outcome.
  function authenticate(url) {
    return new Promise(function (resolve) {
      var overlay = document.createElement("div");
      overlay.setAttribute("data-emulator-3ds", "");
      overlay.style.cssText = "position:fixed;inset:0;background:rgba(0,0,0,.5);z-index:2147483647;" +
        "display:flex;align-items:center;justify-content:center";
      var frame = document.createElement("iframe");
      frame.src = url;
      frame.title = "3-D Secure authentication";
      frame.style.cssText = "width:min(500px,95vw);height:min(600px,90vh);border:0;background:#fff";
      overlay.appendChild(frame);
      document.body.appendChild(overlay);
      function done(ev) {
        if (!ev.data || ev.data.type !== "paylive-emulator-3ds") return;
        window.removeEventListener("message", done);
        overlay.remove();
        resolve(ev.data.status);
      }
      window.addEventListener("message", done);
    });
  }

  function Stripe(key) {
    if (!(this instanceof Stripe)) return new Stripe(key);
    if (!key) throw new Error("Stripe(): a publishable key is required");
    this._key = key;
  }
  Stripe.prototype.elements = function () {
    var created = null;
    return {
      create: function (type) {
        if (type !== "card") throw new Error("The emulator's Stripe.js supports only 'card'");
        created = new CardElement();
        return created;
      },
      getElement: function (type) { return type === "card" ? created : null; },
    };
  };
  // Payment- and SetupIntents go through the same steps; the client secret says which.
  function kindOf(secret) {
    return secret.indexOf("seti_") === 0
      ? { path: "/v1/setup_intents/", key: "setupIntent", lastError: "last_setup_error", errorKey: "setup_intent" }
      : { path: "/v1/payment_intents/", key: "paymentIntent", lastError: "last_payment_error", errorKey: "payment_intent" };
  }
  function result(secret, intent) {
    var out = {};
    out[kindOf(secret).key] = intent;
    return out;
  }
  Stripe.prototype._retrieve = function (secret) {
    var id = secret.split("_secret_")[0];
    return call(this._key, "GET", kindOf(secret).path + id, { client_secret: secret })
      .then(function (r) { return r.ok ? result(secret, r.body) : { error: r.body.error }; });
  };
  Stripe.prototype.retrievePaymentIntent = function (secret) { return this._retrieve(secret); };
  Stripe.prototype.retrieveSetupIntent = function (secret) { return this._retrieve(secret); };
  Stripe.prototype._settle = function (secret) {
    var kind = kindOf(secret);
    return this._retrieve(secret).then(function (res) {
      var intent = res[kind.key];
      if (intent && intent.status === "requires_payment_method" && intent[kind.lastError]) {
        var error = Object.assign({}, intent[kind.lastError]);
        error[kind.errorKey] = intent;
        return { error: error };
      }
      return res;
    });
  };
  Stripe.prototype._next = function (secret, intent) {
    if (intent.status !== "requires_action" || !intent.next_action) return Promise.resolve(result(secret, intent));
    var action = intent.next_action;
    if (action.type === "redirect_to_url") {
      window.location.assign(action.redirect_to_url.url);
      return new Promise(function () {});
    }
    var self = this;
    return authenticate(action.use_stripe_sdk.stripe_js).then(function () { return self._settle(secret); });
  };
  Stripe.prototype.handleCardAction = function (secret) {
    var self = this;
    return this._retrieve(secret).then(function (res) {
      return res.error ? res : self._next(secret, res[kindOf(secret).key]);
    });
  };
  Stripe.prototype.handleNextAction = function (options) {
    return this.handleCardAction(options.clientSecret);
  };
  Stripe.prototype._confirm = function (secret, data, options) {
    var self = this;
    var id = secret.split("_secret_")[0];
    data = data || {};
    var pmStep;
    if (typeof data.payment_method === "string") {
      pmStep = Promise.resolve({ id: data.payment_method });
    } else if (data.payment_method && data.payment_method.card) {
      var params = { type: "card", card: data.payment_method.card._card(),
        billing_details: data.payment_method.billing_details };
      pmStep = call(this._key, "POST", "/v1/payment_methods", params).then(function (r) {
        if (!r.ok) throw r.body.error;
        return r.body;
      });
    } else {
      pmStep = Promise.resolve(null);
    }
    return pmStep.then(function (pm) {
      var params = { client_secret: secret };
      if (pm) params.payment_method = pm.id;
      if (data.return_url) params.return_url = data.return_url;
      return call(self._key, "POST", kindOf(secret).path + id + "/confirm", params);
    }).then(function (r) {
      if (!r.ok) return { error: r.body.error };
      if (options && options.handleActions === false) return result(secret, r.body);
      return self._next(secret, r.body);
    }, function (error) {
      return { error: error };
    });
  };
  Stripe.prototype.confirmCardPayment = function (secret, data, options) {
    return this._confirm(secret, data, options);
  };
  Stripe.prototype.confirmCardSetup = function (secret, data, options) {
    return this._confirm(secret, data, options);
  };
  window.Stripe = Stripe;
})();
