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
;;   gelu_forward_train(x, out, d, n)   out[i] = x[i] Phi(x[i]) and d[i] = Phi(x[i]) + x[i] phi(x[i]) (the
;;       derivative, kept for the backward pass instead of x: dy d is then gelu_backward's dx, the same bits)
;; Pointers are byte offsets of float32 arrays of n values; any n, any 4-byte alignment (the last n mod 4 values
;; go through the same vector code one lane at a time, so every value gets identical arithmetic).
;;
;;   layer_norm_forward(x, res, gamma, beta, y, xhat, rstd, rows, cols, eps)
;;       per row of x (+ res when res != 0): s = x + res, mean, var (biased), rstd = 1/sqrt(var + eps),
;;       xhat = (s - mean) rstd, y = xhat gamma + beta; xhat [rows, cols] and rstd [rows] are kept for backward
;;   layer_norm_backward(dy, xhat, rstd, gamma, dx, dgamma, dbeta, rows, cols)
;;       g = dy gamma; dx = rstd (g - mean(g) - xhat mean(g xhat)) per row; dgamma = sum_rows dy xhat,
;;       dbeta = sum_rows dy (both written, not accumulated into)
;;   softmax_backward(p, dp, ds, rows, cols, scale)
;;       ds = scale p (dp - sum(dp p)) per row (the gradient of the scores before the scale). No forward: a fused
;;       scale + mask + softmax pass with this file's exp measured 1.8-2x slower than tfjs-wasm's three kernels
;;       (XNNPACK's softmax), so the forward stays on those.
;;   dropout_mask(out, n, base, threshold, scale)
;;       out[i] = scale where lowbias32(i * 0x9e3779b9 xor base) >= threshold (unsigned), else 0: the mask of
;;       src/model/dropout.ts (its JavaScript loop gives the same bits), four positions per step
;;   dropout_apply(x, out, n, base, threshold, scale)
;;       out[i] = x[i] * mask[i] with the mask above computed on the fly (dropout and its gradient in one pass,
;;       nothing kept between them); x must not be at byte offset 0
;;   adamw_hf(p, g, m, v, out, n, b1, b2, eps, stepSize, decay, gradScale)
;;   adamw_torch(p, g, m, v, out, n, b1, b2, eps, stepSize, sqrtBc2, decay, gradScale)
;;       the fused AdamW updates of src/train/adamw.ts (its formulas there), four parameters per step in float32
;;       lanes (PyTorch's arithmetic): every operation is the one its JavaScript loop does, in the same order, each
;;       rounded to float32 there (Math.fround), so both give the same bits. out may be p.
;;   add_into(dst, src, n)
;;       dst[i] += src[i] (float32, the bits of tfjs's Add): gradient accumulation over micro-batches in place
;;   sum_squares(x, n) -> f64
;;       sum of x[i]^2 in float64 with two accumulators (even and odd positions), as src/backend/host-memory.ts's
;;       loop: the same bits
;;   rows_to_heads(x, out, ids, rows, heads, dh, seqLen, zeroBytes)
;;       the first zeroBytes bytes of out are zeroed, then row r of x (heads * dh floats) goes head by head to
;;       out[((bi heads + h) seqLen + ti) dh], where ids[r] = bi seqLen + ti: src/backend/head-layout-kernels.ts
;;   heads_to_rows(x, out, ids, rows, heads, dh, seqLen)
;;       the inverse gather: out row r, head by head, from x[((bi heads + h) seqLen + ti) dh]
;;       (both copy dh floats at a time with memory.copy; the ids are checked by the caller)
;; Row sums run in four lanes, then (l0 + l1) + (l2 + l3); a row's last cols mod 4 values are added
;; one by one after that. The order is fixed, so the same input gives the same bits every run.
(module
  (import "env" "memory" (memory 1))

  ;; The GELU pass's constants, read into locals before its loop. Mutable, so that V8 cannot fold them back into
  ;; constants rebuilt at every use (it does that for immutable ones and for locals set from v128.const).
  (global $k_rsqrt2 (mut v128) (v128.const f32x4 0.70710678118654752 0.70710678118654752 0.70710678118654752 0.70710678118654752))
  (global $k_absmask (mut v128) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff))
  (global $k_signmask (mut v128) (v128.const i32x4 0x80000000 0x80000000 0x80000000 0x80000000))
  (global $k_one (mut v128) (v128.const f32x4 1 1 1 1))
  (global $k_half (mut v128) (v128.const f32x4 0.5 0.5 0.5 0.5))
  (global $k_ap (mut v128) (v128.const f32x4 0.3275911 0.3275911 0.3275911 0.3275911))
  (global $k_a1 (mut v128) (v128.const f32x4 0.254829592 0.254829592 0.254829592 0.254829592))
  (global $k_a2 (mut v128) (v128.const f32x4 -0.284496736 -0.284496736 -0.284496736 -0.284496736))
  (global $k_a3 (mut v128) (v128.const f32x4 1.421413741 1.421413741 1.421413741 1.421413741))
  (global $k_a4 (mut v128) (v128.const f32x4 -1.453152027 -1.453152027 -1.453152027 -1.453152027))
  (global $k_a5 (mut v128) (v128.const f32x4 1.061405429 1.061405429 1.061405429 1.061405429))
  (global $k_zmin (mut v128) (v128.const f32x4 -87.3 -87.3 -87.3 -87.3))
  (global $k_log2e (mut v128) (v128.const f32x4 1.44269504088896341 1.44269504088896341 1.44269504088896341 1.44269504088896341))
  (global $k_magic (mut v128) (v128.const f32x4 12583039 12583039 12583039 12583039))
  (global $k_ln2hi (mut v128) (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375))
  (global $k_ln2lo (mut v128) (v128.const f32x4 2.12194440e-4 2.12194440e-4 2.12194440e-4 2.12194440e-4))
  (global $k_c0 (mut v128) (v128.const f32x4 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1))
  (global $k_c1 (mut v128) (v128.const f32x4 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1))
  (global $k_c2 (mut v128) (v128.const f32x4 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2))
  (global $k_c3 (mut v128) (v128.const f32x4 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3))
  (global $k_c4 (mut v128) (v128.const f32x4 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3))
  (global $k_c5 (mut v128) (v128.const f32x4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4))
  (global $k_isqrt2pi (mut v128) (v128.const f32x4 0.39894228040143268 0.39894228040143268 0.39894228040143268 0.39894228040143268))

  ;; The GELU pass, forward or backward, with the math written out in the loop and every constant read from a
  ;; global into a local before it: V8 (Node 20) neither inlines wasm calls nor hoists v128 constants, and rebuilt
  ;; each of the ~25 constants from three instructions at every use; f32x4.max's NaN rules took seven (pmax, one
  ;; maxps, gives the same values here: NaN stays NaN). The same operations in the same order as the helpers this
  ;; replaced: the same bits.
  ;;
  ;; Per vector x (the last n mod 4 values one at a time, splatted, lane 0 kept):
  ;;   u = x / sqrt 2, a = |u|, t = 1 / (1 + p a)
  ;;   e = exp(-a^2) = exp(-x^2 / 2): z = max(-a^2, -87.3) (0 below it, see keep), b = z log2 e + (1.5 2^23 + 127),
  ;;       n = b - (1.5 2^23 + 127) (round to nearest: n + 127 sits in b's low mantissa bits), r = z - n ln2 (ln2
  ;;       split in Cephes' C1 + C2), e^r = ((((( c5 r + c4) r + c3) r + c2) r + c1) r + c0) r^2 + r + 1 (Cephes'
  ;;       expf), times 2^n = bits (b << 23)
  ;;   erf(|u|) = 1 - (((((a5 t + a4) t + a3) t + a2) t + a1) t) e (Abramowitz & Stegun 7.1.26, the formula of
  ;;       tfjs's Erf kernels), erf(u) = copysign(erf(|u|), u), Phi = (1 + erf(u)) / 2
  ;;   forward ($mode 0): x Phi;  backward (1): dy (Phi + x e / sqrt(2 pi));  forward with the derivative (2):
  ;;   x Phi into out and Phi + x e / sqrt(2 pi) into $dy (an output in this mode)
  (func $gelu_pass (param $x i32) (param $dy i32) (param $out i32) (param $n i32) (param $mode i32)
    (local $rsqrt2 v128) (local $absmask v128) (local $signmask v128) (local $one v128) (local $half v128)
    (local $ap v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $a4 v128) (local $a5 v128)
    (local $zmin v128) (local $log2e v128) (local $magic v128) (local $ln2hi v128) (local $ln2lo v128)
    (local $c0 v128) (local $c1 v128) (local $c2 v128) (local $c3 v128) (local $c4 v128) (local $c5 v128)
    (local $isqrt2pi v128)
    (local $v v128) (local $d v128) (local $u v128) (local $a v128) (local $t v128) (local $z v128) (local $b v128)
    (local $k v128) (local $r v128) (local $p v128) (local $keep v128) (local $e v128) (local $y v128) (local $res v128)
    (local $whole i32) (local $grad i32) (local $deriv i32) (local $g v128)
    (local.set $grad (i32.eq (local.get $mode) (i32.const 1)))
    (local.set $deriv (i32.eq (local.get $mode) (i32.const 2)))
    (local.set $rsqrt2 (global.get $k_rsqrt2))
    (local.set $absmask (global.get $k_absmask))
    (local.set $signmask (global.get $k_signmask))
    (local.set $one (global.get $k_one))
    (local.set $half (global.get $k_half))
    (local.set $ap (global.get $k_ap))
    (local.set $a1 (global.get $k_a1))
    (local.set $a2 (global.get $k_a2))
    (local.set $a3 (global.get $k_a3))
    (local.set $a4 (global.get $k_a4))
    (local.set $a5 (global.get $k_a5))
    (local.set $zmin (global.get $k_zmin))
    (local.set $log2e (global.get $k_log2e))
    (local.set $magic (global.get $k_magic))
    (local.set $ln2hi (global.get $k_ln2hi))
    (local.set $ln2lo (global.get $k_ln2lo))
    (local.set $c0 (global.get $k_c0))
    (local.set $c1 (global.get $k_c1))
    (local.set $c2 (global.get $k_c2))
    (local.set $c3 (global.get $k_c3))
    (local.set $c4 (global.get $k_c4))
    (local.set $c5 (global.get $k_c5))
    (local.set $isqrt2pi (global.get $k_isqrt2pi))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $whole (i32.ge_u (local.get $n) (i32.const 4)))
        (if (local.get $whole)
          (then
            (local.set $v (v128.load align=4 (local.get $x)))
            (if (local.get $grad) (then (local.set $d (v128.load align=4 (local.get $dy))))))
          (else
            (local.set $v (f32x4.splat (f32.load (local.get $x))))
            (if (local.get $grad) (then (local.set $d (f32x4.splat (f32.load (local.get $dy))))))))
        (local.set $u (f32x4.mul (local.get $v) (local.get $rsqrt2)))
        (local.set $a (v128.and (local.get $u) (local.get $absmask)))
        (local.set $t (f32x4.div (local.get $one) (f32x4.add (local.get $one) (f32x4.mul (local.get $a) (local.get $ap)))))
        ;; e = exp(z), z = -a^2
        (local.set $z (v128.xor (f32x4.mul (local.get $a) (local.get $a)) (local.get $signmask)))
        (local.set $keep (f32x4.ge (local.get $z) (local.get $zmin)))
        (local.set $z (f32x4.pmax (local.get $z) (local.get $zmin)))
        (local.set $b (f32x4.add (f32x4.mul (local.get $z) (local.get $log2e)) (local.get $magic)))
        (local.set $k (f32x4.sub (local.get $b) (local.get $magic)))
        (local.set $r (f32x4.sub (local.get $z) (f32x4.mul (local.get $k) (local.get $ln2hi))))
        (local.set $r (f32x4.add (local.get $r) (f32x4.mul (local.get $k) (local.get $ln2lo))))
        (local.set $p (f32x4.add (f32x4.mul (local.get $c5) (local.get $r)) (local.get $c4)))
        (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (local.get $c3)))
        (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (local.get $c2)))
        (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (local.get $c1)))
        (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (local.get $c0)))
        (local.set $p (f32x4.add
          (f32x4.add (f32x4.mul (local.get $p) (f32x4.mul (local.get $r) (local.get $r))) (local.get $r))
          (local.get $one)))
        (local.set $e (v128.and (local.get $keep)
          (f32x4.mul (local.get $p) (i32x4.shl (local.get $b) (i32.const 23)))))
        ;; Phi = (1 + copysign(1 - y t e, u)) / 2
        (local.set $y (f32x4.add (f32x4.mul (local.get $a5) (local.get $t)) (local.get $a4)))
        (local.set $y (f32x4.add (f32x4.mul (local.get $y) (local.get $t)) (local.get $a3)))
        (local.set $y (f32x4.add (f32x4.mul (local.get $y) (local.get $t)) (local.get $a2)))
        (local.set $y (f32x4.add (f32x4.mul (local.get $y) (local.get $t)) (local.get $a1)))
        (local.set $y (f32x4.sub (local.get $one)
          (f32x4.mul (f32x4.mul (local.get $y) (local.get $t)) (local.get $e))))
        (local.set $y (v128.or (local.get $y) (v128.and (local.get $u) (local.get $signmask))))
        (local.set $p (f32x4.mul (f32x4.add (local.get $one) (local.get $y)) (local.get $half)))
        (if (local.get $grad)
          (then
            (local.set $res (f32x4.mul (local.get $d) (f32x4.add (local.get $p)
              (f32x4.mul (local.get $v) (f32x4.mul (local.get $e) (local.get $isqrt2pi)))))))
          (else
            (local.set $res (f32x4.mul (local.get $v) (local.get $p)))
            (if (local.get $deriv)
              (then
                (local.set $g (f32x4.add (local.get $p)
                  (f32x4.mul (local.get $v) (f32x4.mul (local.get $e) (local.get $isqrt2pi)))))
                (if (local.get $whole)
                  (then (v128.store align=4 (local.get $dy) (local.get $g)))
                  (else (f32.store (local.get $dy) (f32x4.extract_lane 0 (local.get $g)))))))))
        (if (local.get $whole)
          (then
            (v128.store align=4 (local.get $out) (local.get $res))
            (local.set $x (i32.add (local.get $x) (i32.const 16)))
            (local.set $dy (i32.add (local.get $dy) (i32.const 16)))
            (local.set $out (i32.add (local.get $out) (i32.const 16)))
            (local.set $n (i32.sub (local.get $n) (i32.const 4))))
          (else
            (f32.store (local.get $out) (f32x4.extract_lane 0 (local.get $res)))
            (local.set $x (i32.add (local.get $x) (i32.const 4)))
            (local.set $dy (i32.add (local.get $dy) (i32.const 4)))
            (local.set $out (i32.add (local.get $out) (i32.const 4)))
            (local.set $n (i32.sub (local.get $n) (i32.const 1)))))
        (br $next))))

  (func (export "gelu_forward") (param $x i32) (param $out i32) (param $n i32)
    (call $gelu_pass (local.get $x) (i32.const 0) (local.get $out) (local.get $n) (i32.const 0)))

  (func (export "gelu_backward") (param $x i32) (param $dy i32) (param $dx i32) (param $n i32)
    (call $gelu_pass (local.get $x) (local.get $dy) (local.get $dx) (local.get $n) (i32.const 1)))

  (func (export "gelu_forward_train") (param $x i32) (param $out i32) (param $d i32) (param $n i32)
    (call $gelu_pass (local.get $x) (local.get $d) (local.get $out) (local.get $n) (i32.const 2)))

  ;; (l0 + l1) + (l2 + l3)
  (func $hsum (param $v v128) (result f32)
    (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
      (f32.add (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v)))))

  (func (export "layer_norm_forward")
    (param $x i32) (param $res i32) (param $gamma i32) (param $beta i32) (param $y i32) (param $xhat i32)
    (param $rstd i32) (param $rows i32) (param $cols i32) (param $eps f32)
    (local $r i32) (local $i i32) (local $vec i32) (local $acc v128) (local $v v128) (local $sum f32)
    (local $mean f32) (local $rs f32) (local $s f32) (local $meanv v128) (local $rsv v128) (local $rowBytes i32)
    (local.set $vec (i32.shl (i32.and (local.get $cols) (i32.const -4)) (i32.const 2)))
    (local.set $rowBytes (i32.shl (local.get $cols) (i32.const 2)))
    (block $rdone
      (loop $row
        (br_if $rdone (i32.ge_u (local.get $r) (local.get $rows)))
        ;; pass 1: s = x + res into xhat, and its sum
        (local.set $acc (v128.const f32x4 0 0 0 0))
        (local.set $i (i32.const 0))
        (block $d1 (loop $l1
          (br_if $d1 (i32.ge_u (local.get $i) (local.get $vec)))
          (local.set $v (v128.load align=4 (i32.add (local.get $x) (local.get $i))))
          (if (local.get $res) (then
            (local.set $v (f32x4.add (local.get $v) (v128.load align=4 (i32.add (local.get $res) (local.get $i)))))))
          (v128.store align=4 (i32.add (local.get $xhat) (local.get $i)) (local.get $v))
          (local.set $acc (f32x4.add (local.get $acc) (local.get $v)))
          (local.set $i (i32.add (local.get $i) (i32.const 16)))
          (br $l1)))
        (local.set $sum (call $hsum (local.get $acc)))
        (block $t1d (loop $t1
          (br_if $t1d (i32.ge_u (local.get $i) (local.get $rowBytes)))
          (local.set $s (f32.load (i32.add (local.get $x) (local.get $i))))
          (if (local.get $res) (then
            (local.set $s (f32.add (local.get $s) (f32.load (i32.add (local.get $res) (local.get $i)))))))
          (f32.store (i32.add (local.get $xhat) (local.get $i)) (local.get $s))
          (local.set $sum (f32.add (local.get $sum) (local.get $s)))
          (local.set $i (i32.add (local.get $i) (i32.const 4)))
          (br $t1)))
        (local.set $mean (f32.div (local.get $sum) (f32.convert_i32_u (local.get $cols))))
        (local.set $meanv (f32x4.splat (local.get $mean)))
        ;; pass 2: the biased variance
        (local.set $acc (v128.const f32x4 0 0 0 0))
        (local.set $i (i32.const 0))
        (block $d2 (loop $l2
          (br_if $d2 (i32.ge_u (local.get $i) (local.get $vec)))
          (local.set $v (f32x4.sub (v128.load align=4 (i32.add (local.get $xhat) (local.get $i))) (local.get $meanv)))
          (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (local.get $v) (local.get $v))))
          (local.set $i (i32.add (local.get $i) (i32.const 16)))
          (br $l2)))
        (local.set $sum (call $hsum (local.get $acc)))
        (block $t2d (loop $t2
          (br_if $t2d (i32.ge_u (local.get $i) (local.get $rowBytes)))
          (local.set $s (f32.sub (f32.load (i32.add (local.get $xhat) (local.get $i))) (local.get $mean)))
          (local.set $sum (f32.add (local.get $sum) (f32.mul (local.get $s) (local.get $s))))
          (local.set $i (i32.add (local.get $i) (i32.const 4)))
          (br $t2)))
        (local.set $rs (f32.div (f32.const 1) (f32.sqrt (f32.add
          (f32.div (local.get $sum) (f32.convert_i32_u (local.get $cols))) (local.get $eps)))))
        (f32.store (i32.add (local.get $rstd) (i32.shl (local.get $r) (i32.const 2))) (local.get $rs))
        (local.set $rsv (f32x4.splat (local.get $rs)))
        ;; pass 3: xhat and y
        (local.set $i (i32.const 0))
        (block $d3 (loop $l3
          (br_if $d3 (i32.ge_u (local.get $i) (local.get $vec)))
          (local.set $v (f32x4.mul (f32x4.sub (v128.load align=4 (i32.add (local.get $xhat) (local.get $i)))
            (local.get $meanv)) (local.get $rsv)))
          (v128.store align=4 (i32.add (local.get $xhat) (local.get $i)) (local.get $v))
          (v128.store align=4 (i32.add (local.get $y) (local.get $i))
            (f32x4.add (f32x4.mul (local.get $v) (v128.load align=4 (i32.add (local.get $gamma) (local.get $i))))
              (v128.load align=4 (i32.add (local.get $beta) (local.get $i)))))
          (local.set $i (i32.add (local.get $i) (i32.const 16)))
          (br $l3)))
        (block $t3d (loop $t3
          (br_if $t3d (i32.ge_u (local.get $i) (local.get $rowBytes)))
          (local.set $s (f32.mul (f32.sub (f32.load (i32.add (local.get $xhat) (local.get $i))) (local.get $mean))
            (local.get $rs)))
          (f32.store (i32.add (local.get $xhat) (local.get $i)) (local.get $s))
          (f32.store (i32.add (local.get $y) (local.get $i))
            (f32.add (f32.mul (local.get $s) (f32.load (i32.add (local.get $gamma) (local.get $i))))
              (f32.load (i32.add (local.get $beta) (local.get $i)))))
          (local.set $i (i32.add (local.get $i) (i32.const 4)))
          (br $t3)))
        (local.set $x (i32.add (local.get $x) (local.get $rowBytes)))
        (if (local.get $res) (then (local.set $res (i32.add (local.get $res) (local.get $rowBytes)))))
        (local.set $y (i32.add (local.get $y) (local.get $rowBytes)))
        (local.set $xhat (i32.add (local.get $xhat) (local.get $rowBytes)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $row))))

  (func (export "layer_norm_backward")
    (param $dy i32) (param $xhat i32) (param $rstd i32) (param $gamma i32) (param $dx i32) (param $dgamma i32)
    (param $dbeta i32) (param $rows i32) (param $cols i32)
    (local $r i32) (local $i i32) (local $vec i32) (local $rowBytes i32) (local $d v128) (local $xh v128)
    (local $g v128) (local $sg v128) (local $sgx v128) (local $mg f32) (local $mgx f32) (local $rs f32)
    (local $ds f32) (local $xs f32) (local $gs f32) (local $sgs f32) (local $sgxs f32)
    (local $mgv v128) (local $mgxv v128) (local $rsv v128)
    (local.set $vec (i32.shl (i32.and (local.get $cols) (i32.const -4)) (i32.const 2)))
    (local.set $rowBytes (i32.shl (local.get $cols) (i32.const 2)))
    (memory.fill (local.get $dgamma) (i32.const 0) (local.get $rowBytes))
    (memory.fill (local.get $dbeta) (i32.const 0) (local.get $rowBytes))
    (block $rdone
      (loop $row
        (br_if $rdone (i32.ge_u (local.get $r) (local.get $rows)))
        ;; pass 1: sums of g and g xhat; dgamma and dbeta
        (local.set $sg (v128.const f32x4 0 0 0 0))
        (local.set $sgx (v128.const f32x4 0 0 0 0))
        (local.set $i (i32.const 0))
        (block $d1 (loop $l1
          (br_if $d1 (i32.ge_u (local.get $i) (local.get $vec)))
          (local.set $d (v128.load align=4 (i32.add (local.get $dy) (local.get $i))))
          (local.set $xh (v128.load align=4 (i32.add (local.get $xhat) (local.get $i))))
          (local.set $g (f32x4.mul (local.get $d) (v128.load align=4 (i32.add (local.get $gamma) (local.get $i)))))
          (local.set $sg (f32x4.add (local.get $sg) (local.get $g)))
          (local.set $sgx (f32x4.add (local.get $sgx) (f32x4.mul (local.get $g) (local.get $xh))))
          (v128.store align=4 (i32.add (local.get $dgamma) (local.get $i)) (f32x4.add
            (v128.load align=4 (i32.add (local.get $dgamma) (local.get $i))) (f32x4.mul (local.get $d) (local.get $xh))))
          (v128.store align=4 (i32.add (local.get $dbeta) (local.get $i)) (f32x4.add
            (v128.load align=4 (i32.add (local.get $dbeta) (local.get $i))) (local.get $d)))
          (local.set $i (i32.add (local.get $i) (i32.const 16)))
          (br $l1)))
        (local.set $sgs (call $hsum (local.get $sg)))
        (local.set $sgxs (call $hsum (local.get $sgx)))
        (block $t1d (loop $t1
          (br_if $t1d (i32.ge_u (local.get $i) (local.get $rowBytes)))
          (local.set $ds (f32.load (i32.add (local.get $dy) (local.get $i))))
          (local.set $xs (f32.load (i32.add (local.get $xhat) (local.get $i))))
          (local.set $gs (f32.mul (local.get $ds) (f32.load (i32.add (local.get $gamma) (local.get $i)))))
          (local.set $sgs (f32.add (local.get $sgs) (local.get $gs)))
          (local.set $sgxs (f32.add (local.get $sgxs) (f32.mul (local.get $gs) (local.get $xs))))
          (f32.store (i32.add (local.get $dgamma) (local.get $i)) (f32.add
            (f32.load (i32.add (local.get $dgamma) (local.get $i))) (f32.mul (local.get $ds) (local.get $xs))))
          (f32.store (i32.add (local.get $dbeta) (local.get $i)) (f32.add
            (f32.load (i32.add (local.get $dbeta) (local.get $i))) (local.get $ds)))
          (local.set $i (i32.add (local.get $i) (i32.const 4)))
          (br $t1)))
        (local.set $mg (f32.div (local.get $sgs) (f32.convert_i32_u (local.get $cols))))
        (local.set $mgx (f32.div (local.get $sgxs) (f32.convert_i32_u (local.get $cols))))
        (local.set $rs (f32.load (i32.add (local.get $rstd) (i32.shl (local.get $r) (i32.const 2)))))
        (local.set $mgv (f32x4.splat (local.get $mg)))
        (local.set $mgxv (f32x4.splat (local.get $mgx)))
        (local.set $rsv (f32x4.splat (local.get $rs)))
        ;; pass 2: dx = rstd (g - mean(g) - xhat mean(g xhat))
        (local.set $i (i32.const 0))
        (block $d2 (loop $l2
          (br_if $d2 (i32.ge_u (local.get $i) (local.get $vec)))
          (local.set $g (f32x4.mul (v128.load align=4 (i32.add (local.get $dy) (local.get $i)))
            (v128.load align=4 (i32.add (local.get $gamma) (local.get $i)))))
          (v128.store align=4 (i32.add (local.get $dx) (local.get $i)) (f32x4.mul (local.get $rsv)
            (f32x4.sub (f32x4.sub (local.get $g) (local.get $mgv))
              (f32x4.mul (v128.load align=4 (i32.add (local.get $xhat) (local.get $i))) (local.get $mgxv)))))
          (local.set $i (i32.add (local.get $i) (i32.const 16)))
          (br $l2)))
        (block $t2d (loop $t2
          (br_if $t2d (i32.ge_u (local.get $i) (local.get $rowBytes)))
          (local.set $gs (f32.mul (f32.load (i32.add (local.get $dy) (local.get $i)))
            (f32.load (i32.add (local.get $gamma) (local.get $i)))))
          (f32.store (i32.add (local.get $dx) (local.get $i)) (f32.mul (local.get $rs)
            (f32.sub (f32.sub (local.get $gs) (local.get $mg))
              (f32.mul (f32.load (i32.add (local.get $xhat) (local.get $i))) (local.get $mgx)))))
          (local.set $i (i32.add (local.get $i) (i32.const 4)))
          (br $t2)))
        (local.set $dy (i32.add (local.get $dy) (local.get $rowBytes)))
        (local.set $xhat (i32.add (local.get $xhat) (local.get $rowBytes)))
        (local.set $dx (i32.add (local.get $dx) (local.get $rowBytes)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $row))))

  (func (export "softmax_backward")
    (param $p i32) (param $dp i32) (param $ds i32) (param $rows i32) (param $cols i32) (param $scale f32)
    (local $r i32) (local $i i32) (local $vec i32) (local $rowBytes i32) (local $acc v128) (local $dot f32)
    (local $dotv v128) (local $scalev v128) (local $pv f32)
    (local.set $vec (i32.shl (i32.and (local.get $cols) (i32.const -4)) (i32.const 2)))
    (local.set $rowBytes (i32.shl (local.get $cols) (i32.const 2)))
    (local.set $scalev (f32x4.splat (local.get $scale)))
    (block $rdone (loop $row
      (br_if $rdone (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $acc (v128.const f32x4 0 0 0 0))
      (local.set $i (i32.const 0))
      (block $d1 (loop $l1
        (br_if $d1 (i32.ge_u (local.get $i) (local.get $vec)))
        (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul
          (v128.load align=4 (i32.add (local.get $p) (local.get $i)))
          (v128.load align=4 (i32.add (local.get $dp) (local.get $i))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $l1)))
      (local.set $dot (call $hsum (local.get $acc)))
      (block $t1d (loop $t1
        (br_if $t1d (i32.ge_u (local.get $i) (local.get $rowBytes)))
        (local.set $dot (f32.add (local.get $dot) (f32.mul
          (f32.load (i32.add (local.get $p) (local.get $i))) (f32.load (i32.add (local.get $dp) (local.get $i))))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $t1)))
      (local.set $dotv (f32x4.splat (local.get $dot)))
      (local.set $i (i32.const 0))
      (block $d2 (loop $l2
        (br_if $d2 (i32.ge_u (local.get $i) (local.get $vec)))
        (v128.store align=4 (i32.add (local.get $ds) (local.get $i)) (f32x4.mul (local.get $scalev) (f32x4.mul
          (v128.load align=4 (i32.add (local.get $p) (local.get $i)))
          (f32x4.sub (v128.load align=4 (i32.add (local.get $dp) (local.get $i))) (local.get $dotv)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $l2)))
      (block $t2d (loop $t2
        (br_if $t2d (i32.ge_u (local.get $i) (local.get $rowBytes)))
        (f32.store (i32.add (local.get $ds) (local.get $i)) (f32.mul (local.get $scale) (f32.mul
          (f32.load (i32.add (local.get $p) (local.get $i)))
          (f32.sub (f32.load (i32.add (local.get $dp) (local.get $i))) (local.get $dot)))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $t2)))
      (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
      (local.set $dp (i32.add (local.get $dp) (local.get $rowBytes)))
      (local.set $ds (i32.add (local.get $ds) (local.get $rowBytes)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $row))))

  (func (export "dropout_mask") (param $out i32) (param $n i32) (param $base i32) (param $threshold i32) (param $scale f32)
    (call $dropout_pass (i32.const 0) (local.get $out) (local.get $n) (local.get $base) (local.get $threshold)
      (local.get $scale)))

  (func (export "dropout_apply") (param $x i32) (param $out i32) (param $n i32) (param $base i32) (param $threshold i32)
    (param $scale f32)
    (call $dropout_pass (local.get $x) (local.get $out) (local.get $n) (local.get $base) (local.get $threshold)
      (local.get $scale)))

  ;; The mask (x = 0) or x times the mask (x != 0), four positions a step: one f32 multiply per value, the bits of
  ;; tfjs's Multiply of x and the mask.
  (func $dropout_pass (param $x i32) (param $out i32) (param $n i32) (param $base i32) (param $threshold i32)
    (param $scale f32)
    (local $end i32) (local $i v128) (local $basev v128) (local $thr v128) (local $scalev v128)
    (local $tail i32) (local $m v128) (local $apply i32)
    (local.set $apply (i32.ne (local.get $x) (i32.const 0)))
    (local.set $basev (i32x4.splat (local.get $base)))
    (local.set $thr (i32x4.splat (local.get $threshold)))
    (local.set $scalev (f32x4.splat (local.get $scale)))
    (local.set $i (v128.const i32x4 0 1 2 3))
    (local.set $end (i32.add (local.get $out) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $done
      (loop $vec
        (br_if $done (i32.ge_u (local.get $out) (local.get $end)))
        (local.set $m (v128.and (local.get $scalev) (call $keep4 (local.get $i) (local.get $basev) (local.get $thr))))
        (if (local.get $apply)
          (then
            (local.set $m (f32x4.mul (v128.load align=4 (local.get $x)) (local.get $m)))
            (local.set $x (i32.add (local.get $x) (i32.const 16)))))
        (v128.store align=4 (local.get $out) (local.get $m))
        (local.set $i (i32x4.add (local.get $i) (v128.const i32x4 4 4 4 4)))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (br $vec)))
    ;; the last n mod 4 positions: lane 0 of the same vector code
    (local.set $tail (i32.and (local.get $n) (i32.const 3)))
    (block $tdone
      (loop $t
        (br_if $tdone (i32.eqz (local.get $tail)))
        (local.set $m (v128.and (local.get $scalev) (call $keep4 (local.get $i) (local.get $basev) (local.get $thr))))
        (if (local.get $apply)
          (then
            (local.set $m (f32x4.mul (v128.load32_zero align=4 (local.get $x)) (local.get $m)))
            (local.set $x (i32.add (local.get $x) (i32.const 4)))))
        (f32.store (local.get $out) (f32x4.extract_lane 0 (local.get $m)))
        (local.set $i (i32x4.add (local.get $i) (v128.const i32x4 1 1 1 1)))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (local.set $tail (i32.sub (local.get $tail) (i32.const 1)))
        (br $t))))

  ;; all ones in the lanes whose position is kept: lowbias32(i * golden xor base) >= threshold, unsigned
  (func $keep4 (param $i v128) (param $base v128) (param $thr v128) (result v128)
    (local $x v128)
    (local.set $x (v128.xor (i32x4.mul (local.get $i) (v128.const i32x4 0x9e3779b9 0x9e3779b9 0x9e3779b9 0x9e3779b9))
      (local.get $base)))
    (local.set $x (v128.xor (local.get $x) (i32x4.shr_u (local.get $x) (i32.const 16))))
    (local.set $x (i32x4.mul (local.get $x) (v128.const i32x4 0x7feb352d 0x7feb352d 0x7feb352d 0x7feb352d)))
    (local.set $x (v128.xor (local.get $x) (i32x4.shr_u (local.get $x) (i32.const 15))))
    (local.set $x (i32x4.mul (local.get $x) (v128.const i32x4 0x846ca68b 0x846ca68b 0x846ca68b 0x846ca68b)))
    (local.set $x (v128.xor (local.get $x) (i32x4.shr_u (local.get $x) (i32.const 16))))
    (i32x4.ge_u (local.get $x) (local.get $thr)))

  ;; The loop of both variants in float32 lanes, four parameters at a time (the last n mod 4 one by one in lane 0).
  ;; hf (c = 0): x = p - s m'/(sqrt(v') + eps), p' = x - x decay; torch (c = sqrtBc2 > 0):
  ;; p' = p (1 - decay) - s m'/(sqrt(v')/c + eps). Constants are splatted once, before the loop.
  (func $adamw (param $p i32) (param $g i32) (param $m i32) (param $v i32) (param $out i32) (param $n i32)
    (param $b1 f32) (param $b2 f32) (param $eps f32) (param $step f32) (param $c f32) (param $decay f32)
    (param $gs f32)
    (local $whole i32) (local $torch i32)
    (local $gi v128) (local $mi v128) (local $vi v128) (local $x v128)
    (local $B1 v128) (local $C1 v128) (local $B2 v128) (local $C2 v128) (local $EPS v128) (local $S v128)
    (local $C v128) (local $D v128) (local $KEEP v128) (local $GS v128)
    (local.set $B1 (f32x4.splat (local.get $b1)))
    (local.set $C1 (f32x4.splat (f32.sub (f32.const 1) (local.get $b1))))
    (local.set $B2 (f32x4.splat (local.get $b2)))
    (local.set $C2 (f32x4.splat (f32.sub (f32.const 1) (local.get $b2))))
    (local.set $EPS (f32x4.splat (local.get $eps)))
    (local.set $S (f32x4.splat (local.get $step)))
    (local.set $C (f32x4.splat (local.get $c)))
    (local.set $D (f32x4.splat (local.get $decay)))
    (local.set $KEEP (f32x4.splat (f32.sub (f32.const 1) (local.get $decay))))
    (local.set $GS (f32x4.splat (local.get $gs)))
    (local.set $torch (f32.ne (local.get $c) (f32.const 0)))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $whole (i32.ge_u (local.get $n) (i32.const 4)))
        ;; four parameters, or the last few one at a time in lane 0 (float32 arithmetic rounds alike in every lane)
        (if (local.get $whole)
          (then
            (local.set $gi (v128.load align=4 (local.get $g)))
            (local.set $mi (v128.load align=4 (local.get $m)))
            (local.set $vi (v128.load align=4 (local.get $v)))
            (local.set $x (v128.load align=4 (local.get $p))))
          (else
            (local.set $gi (f32x4.splat (f32.load (local.get $g))))
            (local.set $mi (f32x4.splat (f32.load (local.get $m))))
            (local.set $vi (f32x4.splat (f32.load (local.get $v))))
            (local.set $x (f32x4.splat (f32.load (local.get $p))))))
        (local.set $gi (f32x4.mul (local.get $gi) (local.get $GS)))
        (local.set $mi (f32x4.add (f32x4.mul (local.get $B1) (local.get $mi)) (f32x4.mul (local.get $C1) (local.get $gi))))
        (local.set $vi (f32x4.add (f32x4.mul (local.get $B2) (local.get $vi))
          (f32x4.mul (f32x4.mul (local.get $C2) (local.get $gi)) (local.get $gi))))
        (if (local.get $torch)
          (then
            (local.set $x (f32x4.sub (f32x4.mul (local.get $x) (local.get $KEEP)) (f32x4.mul (local.get $S)
              (f32x4.div (local.get $mi)
                (f32x4.add (f32x4.div (f32x4.sqrt (local.get $vi)) (local.get $C)) (local.get $EPS)))))))
          (else
            (local.set $x (f32x4.sub (local.get $x) (f32x4.mul (local.get $S)
              (f32x4.div (local.get $mi) (f32x4.add (f32x4.sqrt (local.get $vi)) (local.get $EPS))))))
            (local.set $x (f32x4.sub (local.get $x) (f32x4.mul (local.get $x) (local.get $D))))))
        (if (local.get $whole)
          (then
            (v128.store align=4 (local.get $m) (local.get $mi))
            (v128.store align=4 (local.get $v) (local.get $vi))
            (v128.store align=4 (local.get $out) (local.get $x))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))
            (local.set $g (i32.add (local.get $g) (i32.const 16)))
            (local.set $m (i32.add (local.get $m) (i32.const 16)))
            (local.set $v (i32.add (local.get $v) (i32.const 16)))
            (local.set $out (i32.add (local.get $out) (i32.const 16)))
            (local.set $n (i32.sub (local.get $n) (i32.const 4))))
          (else
            (f32.store (local.get $m) (f32x4.extract_lane 0 (local.get $mi)))
            (f32.store (local.get $v) (f32x4.extract_lane 0 (local.get $vi)))
            (f32.store (local.get $out) (f32x4.extract_lane 0 (local.get $x)))
            (local.set $p (i32.add (local.get $p) (i32.const 4)))
            (local.set $g (i32.add (local.get $g) (i32.const 4)))
            (local.set $m (i32.add (local.get $m) (i32.const 4)))
            (local.set $v (i32.add (local.get $v) (i32.const 4)))
            (local.set $out (i32.add (local.get $out) (i32.const 4)))
            (local.set $n (i32.sub (local.get $n) (i32.const 1)))))
        (br $next))))

  (func (export "adamw_hf") (param $p i32) (param $g i32) (param $m i32) (param $v i32) (param $out i32)
    (param $n i32) (param $b1 f32) (param $b2 f32) (param $eps f32) (param $step f32) (param $decay f32)
    (param $gs f32)
    (call $adamw (local.get $p) (local.get $g) (local.get $m) (local.get $v) (local.get $out) (local.get $n)
      (local.get $b1) (local.get $b2) (local.get $eps) (local.get $step) (f32.const 0) (local.get $decay)
      (local.get $gs)))

  ;; sqrtBc2 = sqrt(1 - b2^t) > 0 for every t >= 1, so 0 can mark the hf variant in $adamw.
  (func (export "adamw_torch") (param $p i32) (param $g i32) (param $m i32) (param $v i32) (param $out i32)
    (param $n i32) (param $b1 f32) (param $b2 f32) (param $eps f32) (param $step f32) (param $sqrtBc2 f32)
    (param $decay f32) (param $gs f32)
    (call $adamw (local.get $p) (local.get $g) (local.get $m) (local.get $v) (local.get $out) (local.get $n)
      (local.get $b1) (local.get $b2) (local.get $eps) (local.get $step) (local.get $sqrtBc2) (local.get $decay)
      (local.get $gs)))

  (func (export "sum_squares") (param $x i32) (param $n i32) (result f64)
    (local $end i32) (local $acc v128) (local $q v128) (local $lo v128) (local $hi v128)
    (local.set $end (i32.add (local.get $x) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $done
      (loop $quad
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (local.set $q (v128.load align=4 (local.get $x)))
        ;; Four +0.0 values add nothing: the sums start at +0.0 and squares are >= +0.0, so skipping them keeps
        ;; the bits (-0.0 and NaN have bits set and are added). Gradients of embedding tables are mostly zeros.
        (if (v128.any_true (local.get $q))
          (then
            (local.set $lo (f64x2.promote_low_f32x4 (local.get $q)))
            (local.set $hi (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7
              (local.get $q) (local.get $q))))
            (local.set $acc (f64x2.add (local.get $acc) (f64x2.mul (local.get $lo) (local.get $lo))))
            (local.set $acc (f64x2.add (local.get $acc) (f64x2.mul (local.get $hi) (local.get $hi))))))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (br $quad)))
    (if (i32.and (local.get $n) (i32.const 2))
      (then
        (local.set $lo (f64x2.promote_low_f32x4 (v128.load64_zero align=4 (local.get $x))))
        (local.set $acc (f64x2.add (local.get $acc) (f64x2.mul (local.get $lo) (local.get $lo))))
        (local.set $x (i32.add (local.get $x) (i32.const 8)))))
    ;; the odd last value goes to the even accumulator, as in JavaScript (lane 1 adds 0 to the odd one)
    (if (i32.and (local.get $n) (i32.const 1))
      (then
        (local.set $lo (f64x2.promote_low_f32x4 (v128.load32_zero align=4 (local.get $x))))
        (local.set $acc (f64x2.add (local.get $acc) (f64x2.mul (local.get $lo) (local.get $lo))))))
    (f64.add (f64x2.extract_lane 0 (local.get $acc)) (f64x2.extract_lane 1 (local.get $acc))))

  (func (export "add_into") (param $dst i32) (param $src i32) (param $n i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $dst) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $done
      (loop $vec
        (br_if $done (i32.ge_u (local.get $dst) (local.get $end)))
        (v128.store align=4 (local.get $dst)
          (f32x4.add (v128.load align=4 (local.get $dst)) (v128.load align=4 (local.get $src))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (br $vec)))
    (local.set $n (i32.and (local.get $n) (i32.const 3)))
    (block $tdone
      (loop $t
        (br_if $tdone (i32.eqz (local.get $n)))
        (f32.store (local.get $dst) (f32.add (f32.load (local.get $dst)) (f32.load (local.get $src))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
        (local.set $src (i32.add (local.get $src) (i32.const 4)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $t))))

  ;; Byte offset of (bi, h = 0, ti) in the heads' layout [batch * heads, seqLen, dh] for position p = bi seqLen + ti.
  (func $head_slot (param $p i32) (param $heads i32) (param $seqLen i32) (param $sliceBytes i32) (result i32)
    (local $bi i32)
    (local.set $bi (i32.div_u (local.get $p) (local.get $seqLen)))
    (i32.mul
      (i32.add
        (i32.mul (i32.mul (local.get $bi) (local.get $heads)) (local.get $seqLen))
        (i32.sub (local.get $p) (i32.mul (local.get $bi) (local.get $seqLen))))
      (local.get $sliceBytes)))

  (func (export "rows_to_heads") (param $x i32) (param $out i32) (param $ids i32) (param $rows i32) (param $heads i32)
    (param $dh i32) (param $seqLen i32) (param $zeroBytes i32)
    (local $end i32) (local $dst i32) (local $h i32) (local $slice i32) (local $stride i32)
    (memory.fill (local.get $out) (i32.const 0) (local.get $zeroBytes))
    (local.set $slice (i32.shl (local.get $dh) (i32.const 2)))
    (local.set $stride (i32.mul (local.get $seqLen) (local.get $slice)))
    (local.set $end (i32.add (local.get $ids) (i32.shl (local.get $rows) (i32.const 2))))
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $ids) (local.get $end)))
        (local.set $dst (i32.add (local.get $out)
          (call $head_slot (i32.load (local.get $ids)) (local.get $heads) (local.get $seqLen) (local.get $slice))))
        (local.set $h (local.get $heads))
        (block $hdone
          (loop $head
            (br_if $hdone (i32.eqz (local.get $h)))
            (memory.copy (local.get $dst) (local.get $x) (local.get $slice))
            (local.set $x (i32.add (local.get $x) (local.get $slice)))
            (local.set $dst (i32.add (local.get $dst) (local.get $stride)))
            (local.set $h (i32.sub (local.get $h) (i32.const 1)))
            (br $head)))
        (local.set $ids (i32.add (local.get $ids) (i32.const 4)))
        (br $row))))

  (func (export "heads_to_rows") (param $x i32) (param $out i32) (param $ids i32) (param $rows i32) (param $heads i32)
    (param $dh i32) (param $seqLen i32)
    (local $end i32) (local $src i32) (local $h i32) (local $slice i32) (local $stride i32)
    (local.set $slice (i32.shl (local.get $dh) (i32.const 2)))
    (local.set $stride (i32.mul (local.get $seqLen) (local.get $slice)))
    (local.set $end (i32.add (local.get $ids) (i32.shl (local.get $rows) (i32.const 2))))
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $ids) (local.get $end)))
        (local.set $src (i32.add (local.get $x)
          (call $head_slot (i32.load (local.get $ids)) (local.get $heads) (local.get $seqLen) (local.get $slice))))
        (local.set $h (local.get $heads))
        (block $hdone
          (loop $head
            (br_if $hdone (i32.eqz (local.get $h)))
            (memory.copy (local.get $out) (local.get $src) (local.get $slice))
            (local.set $out (i32.add (local.get $out) (local.get $slice)))
            (local.set $src (i32.add (local.get $src) (local.get $stride)))
            (local.set $h (i32.sub (local.get $h) (i32.const 1)))
            (br $head)))
        (local.set $ids (i32.add (local.get $ids) (i32.const 4)))
        (br $row))))
)
