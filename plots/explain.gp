# explain: one synapse of the 3-neuron teaching network (examples/teach3.json),
# layer0.w_in[0][1], at 256 bits: the per-step terms of BPTT, OSTL and e-prop
# (top) and their running sums (bottom).  OSTL ends where BPTT ends; e-prop,
# which drops the recurrent and reset paths, ends elsewhere.
load 'plots/common.gp'
set key noenhanced
do for [fmt in "png svg"] {
  eval 'set terminal '.term(fmt)
  set termoption noenhanced
  set output out('explain', fmt)
  set lmargin 12
  set rmargin 30
  set multiplot layout 2,1 title 'One synapse, step by step: layer0.w_in[0][1] of examples/teach3.json at 256 bits'
  set ylabel 'gradient term of step t'
  unset xlabel
  set key outside right
  set xzeroaxis lt -1
  plot datadir.'/explain_ostl.csv' u 1:4 every ::1 w lp ls 1 pt 7 t 'BPTT: delta(t) x(t)', \
       datadir.'/explain_ostl.csv' u 1:8 every ::1 w lp ls 3 pt 5 t 'OSTL increment', \
       datadir.'/explain_eprop.csv' u 1:8 every ::1 w lp ls 2 pt 9 t 'e-prop: L(t) e(t)'
  set ylabel 'running sum'
  set xlabel 'step t'
  plot datadir.'/explain_ostl.csv' u 1:5 every ::1 w lp ls 1 pt 7 t 'BPTT', \
       datadir.'/explain_ostl.csv' u 1:9 every ::1 w lp ls 3 pt 5 t 'OSTL (exact)', \
       datadir.'/explain_eprop.csv' u 1:9 every ::1 w lp ls 2 pt 9 t 'e-prop (approximate)'
  unset multiplot
  unset output
}
