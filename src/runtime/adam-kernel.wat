;; Adam's update over float32 arrays that live in the tfjs wasm backend's memory (imported), four
;; lanes at a time (wasm SIMD), in float32 like the tfjs ops it replaces:
;;   m = b1·m + c1·g;  v = b2·v + c2·g²;  p = p + (m·lr) / (√v + eps)
;; with c1 = 1 - b1, c2 = 1 - b2, lr = -(bias-corrected learning rate), eps = bias-corrected epsilon.
;; p, m, v, g are byte offsets of n floats each. Built into adam-kernel.wasm by scripts/build-wasm.ts.
(module
  (import "env" "memory" (memory 0))
  (func (export "adam")
    (param $p i32) (param $m i32) (param $v i32) (param $g i32) (param $n i32)
    (param $b1 f32) (param $b2 f32) (param $c1 f32) (param $c2 f32) (param $lr f32) (param $eps f32)
    (local $i i32) (local $end4 i32) (local $o i32)
    (local $B1 v128) (local $B2 v128) (local $C1 v128) (local $C2 v128) (local $LR v128) (local $EPS v128)
    (local $gv v128) (local $mv v128) (local $vv v128)
    (local $gs f32) (local $ms f32) (local $vs f32)
    (local.set $B1 (f32x4.splat (local.get $b1)))
    (local.set $B2 (f32x4.splat (local.get $b2)))
    (local.set $C1 (f32x4.splat (local.get $c1)))
    (local.set $C2 (f32x4.splat (local.get $c2)))
    (local.set $LR (f32x4.splat (local.get $lr)))
    (local.set $EPS (f32x4.splat (local.get $eps)))
    (local.set $end4 (i32.and (local.get $n) (i32.const -4)))
    ;; four lanes at a time
    (block $done4
      (loop $lanes
        (br_if $done4 (i32.ge_u (local.get $i) (local.get $end4)))
        (local.set $o (i32.shl (local.get $i) (i32.const 2)))
        (local.set $gv (v128.load (i32.add (local.get $g) (local.get $o))))
        (local.set $mv
          (f32x4.add
            (f32x4.mul (v128.load (i32.add (local.get $m) (local.get $o))) (local.get $B1))
            (f32x4.mul (local.get $gv) (local.get $C1))))
        (local.set $vv
          (f32x4.add
            (f32x4.mul (v128.load (i32.add (local.get $v) (local.get $o))) (local.get $B2))
            (f32x4.mul (f32x4.mul (local.get $gv) (local.get $gv)) (local.get $C2))))
        (v128.store (i32.add (local.get $m) (local.get $o)) (local.get $mv))
        (v128.store (i32.add (local.get $v) (local.get $o)) (local.get $vv))
        (v128.store (i32.add (local.get $p) (local.get $o))
          (f32x4.add
            (f32x4.div
              (f32x4.mul (local.get $mv) (local.get $LR))
              (f32x4.add (f32x4.sqrt (local.get $vv)) (local.get $EPS)))
            (v128.load (i32.add (local.get $p) (local.get $o)))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $lanes)))
    ;; the last n mod 4 one at a time
    (block $done
      (loop $rest
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $o (i32.shl (local.get $i) (i32.const 2)))
        (local.set $gs (f32.load (i32.add (local.get $g) (local.get $o))))
        (local.set $ms
          (f32.add
            (f32.mul (f32.load (i32.add (local.get $m) (local.get $o))) (local.get $b1))
            (f32.mul (local.get $gs) (local.get $c1))))
        (local.set $vs
          (f32.add
            (f32.mul (f32.load (i32.add (local.get $v) (local.get $o))) (local.get $b2))
            (f32.mul (f32.mul (local.get $gs) (local.get $gs)) (local.get $c2))))
        (f32.store (i32.add (local.get $m) (local.get $o)) (local.get $ms))
        (f32.store (i32.add (local.get $v) (local.get $o)) (local.get $vs))
        (f32.store (i32.add (local.get $p) (local.get $o))
          (f32.add
            (f32.div
              (f32.mul (local.get $ms) (local.get $lr))
              (f32.add (f32.sqrt (local.get $vs)) (local.get $eps)))
            (f32.load (i32.add (local.get $p) (local.get $o)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rest)))))
