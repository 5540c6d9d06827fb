# Figure 1: error of the finite difference against its step, double and MPFR.
load 'plots/common.gp'
set key noenhanced
f = datadir.'/vcurve.csv'
set logscale xy
set format x '10^{%L}'
set format y '10^{%L}'
set xlabel 'relative step h'
set ylabel '||BPTT - finite difference|| / ||finite difference||'
set title 'BPTT against finite differences of a smooth LIF network: the V curve'
set key bottom right
do for [fmt in "png svg"] {
  eval 'set terminal '.term(fmt)
  set output out('vcurve', fmt)
  plot f u ($1==53 ? $3 : 1/0):(10**$5) w lp pt 7 t 'central, double (53 bits)', \
       f u ($1==53 ? $3 : 1/0):(10**$6) w lp pt 5 t 'Richardson, double', \
       f u ($1==128 ? $3 : 1/0):(10**$5) w lp pt 6 t 'central, MPFR 128 bits', \
       f u ($1==128 ? $3 : 1/0):(10**$6) w lp pt 4 t 'Richardson, MPFR 128 bits'
  unset output
}
