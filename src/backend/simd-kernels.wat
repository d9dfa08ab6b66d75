;; Fused element-wise kernels in WebAssembly SIMD (f32x4), run on the wasm backend's own heap (the memory is
;; imported from tfjs-backend-wasm's instance, so tensors are read and written where they are: no copies).
;;
;; Source of src/backend/simd-kernels.wasm.ts (the same module as base64); `npm run build:wasm` regenerates it with
;; wabt, and test/backend/simd-kernels.test.ts checks that the two agree.
;;
;; Why: exact GELU, x Phi(x) = x/2 (1 + erf(x / sqrt 2)), as tfjs ops is five passes forward and eleven backward,
;; with tfjs-wasm's scalar Erf (15 ns per value here) and Exp (9 ns) computed twice. One pass each way here.
;;
;; erf is Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7), the formula of tfjs's own Erf kernels:
;;   erf(u) = sign(u) (1 - t (a1 + t (a2 + t (a3 + t (a4 + t a5)))) exp(-u^2)),  t = 1 / (1 + p |u|)
;; exp is Cephes' expf: n = round(z log2 e), r = z - n ln2 (ln2 split in two), e^r by a degree-6 polynomial,
;; 2^n built in the exponent bits. Only exp(z) for z <= 0 is needed (z = -u^2); below z = -87.3 (where float32's
;; normal range ends) it is 0.
;;
;;   gelu_forward(x, out, n)        out[i] = x[i] Phi(x[i])
;;   gelu_backward(x, dy, dx, n)    dx[i] = dy[i] (Phi(x[i]) + x[i] phi(x[i])),  phi(x) = exp(-x^2/2) / sqrt(2 pi)
;; Pointers are byte offsets of float32 arrays of n values; any n, any 4-byte alignment (the last n mod 4 values
;; go through the same vector code one lane at a time, so every value gets identical arithmetic).
(module
  (import "env" "memory" (memory 1))

  ;; exp(z) for z <= 0, lane-wise.
  (func $exp_nonpos (param $z v128) (result v128)
    (local $n v128) (local $r v128) (local $p v128) (local $keep v128)
    ;; below -87.3 the result is exactly 0 (not the clamped 1e-38: x phi(x) at x = 1e38 must be 0, not 1e38 1e-38)
    (local.set $keep (f32x4.ge (local.get $z) (v128.const f32x4 -87.3 -87.3 -87.3 -87.3)))
    (local.set $z (f32x4.max (local.get $z) (v128.const f32x4 -87.3 -87.3 -87.3 -87.3)))
    (local.set $n (f32x4.nearest (f32x4.mul (local.get $z)
      (v128.const f32x4 1.44269504088896341 1.44269504088896341 1.44269504088896341 1.44269504088896341))))
    ;; r = z - n ln2, with ln2 = 0.693359375 - 2.12194440e-4 (Cephes' C1, C2)
    (local.set $r (f32x4.sub (local.get $z)
      (f32x4.mul (local.get $n) (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375))))
    (local.set $r (f32x4.add (local.get $r)
      (f32x4.mul (local.get $n) (v128.const f32x4 2.12194440e-4 2.12194440e-4 2.12194440e-4 2.12194440e-4))))
    ;; p = ((((( c5 r + c4) r + c3) r + c2) r + c1) r + c0) r^2 + r + 1
    (local.set $p (v128.const f32x4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r))
      (v128.const f32x4 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r))
      (v128.const f32x4 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r))
      (v128.const f32x4 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r))
      (v128.const f32x4 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r))
      (v128.const f32x4 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1)))
    (local.set $p (f32x4.add
      (f32x4.add (f32x4.mul (local.get $p) (f32x4.mul (local.get $r) (local.get $r))) (local.get $r))
      (v128.const f32x4 1 1 1 1)))
    ;; times 2^n: (n + 127) << 23 is 2^n as float32 bits (n >= -126 after the clamp)
    (v128.and (local.get $keep)
      (f32x4.mul (local.get $p)
        (i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s (local.get $n)) (v128.const i32x4 127 127 127 127))
          (i32.const 23)))))

  ;; Phi(x) = (1 + erf(x / sqrt 2)) / 2 and exp(-x^2 / 2), lane-wise, returned in that order.
  (func $cdf_and_gauss (param $x v128) (result v128 v128)
    (local $u v128) (local $a v128) (local $t v128) (local $e v128) (local $y v128)
    (local.set $u (f32x4.mul (local.get $x)
      (v128.const f32x4 0.70710678118654752 0.70710678118654752 0.70710678118654752 0.70710678118654752)))
    (local.set $a (f32x4.abs (local.get $u)))
    (local.set $t (f32x4.div (v128.const f32x4 1 1 1 1)
      (f32x4.add (v128.const f32x4 1 1 1 1)
        (f32x4.mul (local.get $a) (v128.const f32x4 0.3275911 0.3275911 0.3275911 0.3275911)))))
    (local.set $e (call $exp_nonpos (f32x4.neg (f32x4.mul (local.get $a) (local.get $a)))))
    ;; y = (((((a5 t + a4) t + a3) t + a2) t + a1) t
    (local.set $y (v128.const f32x4 1.061405429 1.061405429 1.061405429 1.061405429))
    (local.set $y (f32x4.add (f32x4.mul (local.get $y) (local.get $t))
      (v128.const f32x4 -1.453152027 -1.453152027 -1.453152027 -1.453152027)))
    (local.set $y (f32x4.add (f32x4.mul (local.get $y) (local.get $t))
      (v128.const f32x4 1.421413741 1.421413741 1.421413741 1.421413741)))
    (local.set $y (f32x4.add (f32x4.mul (local.get $y) (local.get $t))
      (v128.const f32x4 -0.284496736 -0.284496736 -0.284496736 -0.284496736)))
    (local.set $y (f32x4.add (f32x4.mul (local.get $y) (local.get $t))
      (v128.const f32x4 0.254829592 0.254829592 0.254829592 0.254829592)))
    ;; erf(|u|) = 1 - y t e
    (local.set $y (f32x4.sub (v128.const f32x4 1 1 1 1)
      (f32x4.mul (f32x4.mul (local.get $y) (local.get $t)) (local.get $e))))
    ;; erf(u) = copysign(erf(|u|), u); Phi = (1 + erf(u)) / 2
    (local.set $y (v128.or (local.get $y) (v128.and (local.get $u) (v128.const i32x4 0x80000000 0x80000000 0x80000000 0x80000000))))
    (f32x4.mul (f32x4.add (v128.const f32x4 1 1 1 1) (local.get $y)) (v128.const f32x4 0.5 0.5 0.5 0.5))
    (local.get $e))

  (func $gelu_vec (param $x v128) (result v128)
    (local $phi v128)
    (call $cdf_and_gauss (local.get $x))
    (drop)
    (local.set $phi)
    (f32x4.mul (local.get $x) (local.get $phi)))

  ;; dGELU/dx = Phi(x) + x exp(-x^2/2) / sqrt(2 pi)
  (func $gelu_grad_vec (param $x v128) (result v128)
    (local $phi v128) (local $e v128)
    (call $cdf_and_gauss (local.get $x))
    (local.set $e)
    (local.set $phi)
    (f32x4.add (local.get $phi)
      (f32x4.mul (local.get $x) (f32x4.mul (local.get $e)
        (v128.const f32x4 0.39894228040143268 0.39894228040143268 0.39894228040143268 0.39894228040143268)))))

  (func (export "gelu_forward") (param $x i32) (param $out i32) (param $n i32)
    (local $end i32) (local $tail i32)
    (local.set $end (i32.add (local.get $x) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $done
      (loop $vec
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (v128.store align=4 (local.get $out) (call $gelu_vec (v128.load align=4 (local.get $x))))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (br $vec)))
    (local.set $tail (i32.and (local.get $n) (i32.const 3)))
    (block $tdone
      (loop $t
        (br_if $tdone (i32.eqz (local.get $tail)))
        (f32.store (local.get $out)
          (f32x4.extract_lane 0 (call $gelu_vec (f32x4.splat (f32.load (local.get $x))))))
        (local.set $x (i32.add (local.get $x) (i32.const 4)))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (local.set $tail (i32.sub (local.get $tail) (i32.const 1)))
        (br $t))))

  (func (export "gelu_backward") (param $x i32) (param $dy i32) (param $dx i32) (param $n i32)
    (local $end i32) (local $tail i32)
    (local.set $end (i32.add (local.get $x) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $done
      (loop $vec
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (v128.store align=4 (local.get $dx)
          (f32x4.mul (v128.load align=4 (local.get $dy)) (call $gelu_grad_vec (v128.load align=4 (local.get $x)))))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (local.set $dy (i32.add (local.get $dy) (i32.const 16)))
        (local.set $dx (i32.add (local.get $dx) (i32.const 16)))
        (br $vec)))
    (local.set $tail (i32.and (local.get $n) (i32.const 3)))
    (block $tdone
      (loop $t
        (br_if $tdone (i32.eqz (local.get $tail)))
        (f32.store (local.get $dx)
          (f32x4.extract_lane 0
            (f32x4.mul (f32x4.splat (f32.load (local.get $dy)))
              (call $gelu_grad_vec (f32x4.splat (f32.load (local.get $x)))))))
        (local.set $x (i32.add (local.get $x) (i32.const 4)))
        (local.set $dy (i32.add (local.get $dy) (i32.const 4)))
        (local.set $dx (i32.add (local.get $dx) (i32.const 4)))
        (local.set $tail (i32.sub (local.get $tail) (i32.const 1)))
        (br $t))))
)
