package cloudsim

import (
	"context"
	"time"
)

// The instance state machine:
//
//	RunInstances:   Pending -(create_time)-> Starting -(backend start, boot_time)-> Running
//	CreateInstance: Pending -(create_time)-> Stopped
//	StartInstance:  Stopped -> Starting -> Running
//	StopInstance:   Running -> Stopping -(backend stop, stop_time)-> Stopped
//	RebootInstance: Running -> Stopping -> Starting -> Running
//
// A transition goroutine carries the instance's op number and gives up when
// the instance has moved on (deleted, or another operation began).

// machine is what the power flows move through its states: an ECS or an
// EC2 instance. The caller of every method holds s.mu.
type machine interface {
	// booted: the host runs and answers on privateIP.
	booted(s *Server, privateIP string, now time.Time)
	// bootFailed: the host did not start.
	bootFailed(s *Server)
	// halted: the host stopped.
	halted(s *Server)
	// haltFailed: the host did not stop.
	haltFailed(s *Server)
	// restarting: a reboot stopped the host and starts it again.
	restarting(s *Server)
}

// current returns the ECS or EC2 instance if op is still its latest
// operation. The caller holds s.mu.
func (s *Server) current(id string, op int) machine {
	if inst := s.st.instances.at(id); inst != nil && inst.op == op {
		return inst
	}
	if inst := s.st.ec2.instances.at(id); inst != nil && inst.op == op {
		return inst
	}
	return nil
}

func (inst *instance) booted(s *Server, privateIP string, now time.Time) {
	if privateIP != "" {
		inst.PrivateIP = privateIP
	}
	s.ips.Store(inst.ID, inst.PrivateIP)
	inst.Status = statusRunning
	inst.Started = now
}

func (inst *instance) bootFailed(*Server) { inst.Status = statusStopped }
func (inst *instance) halted(*Server)     { inst.Status = statusStopped }
func (inst *instance) haltFailed(*Server) { inst.Status = statusRunning }
func (inst *instance) restarting(*Server) { inst.Status = statusStarting }

func (s *Server) createFlow(ctx context.Context, id string, op int, run bool) {
	if sleepCtx(ctx, s.faults.get().CreateTime.D()) != nil {
		return
	}
	s.mu.Lock()
	inst := s.st.instances.at(id)
	if inst == nil || inst.op != op {
		s.mu.Unlock()
		return
	}
	if !run {
		inst.Status = statusStopped
		s.mu.Unlock()
		return
	}
	inst.Status = statusStarting
	s.mu.Unlock()
	s.bootFlow(ctx, id, op)
}

// bootFlow starts the host and makes the instance Running once it answers and
// at least boot_time has passed; a host that fails to start leaves the
// instance Stopped.
func (s *Server) bootFlow(ctx context.Context, id string, op int) {
	began := time.Now()
	addrs, err := s.backend.Start(ctx, id)
	if err == nil {
		if sleepCtx(ctx, s.faults.get().BootTime.D()-time.Since(began)) != nil {
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	inst := s.current(id, op)
	if inst == nil {
		return
	}
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("cloudsim: the host of an instance failed to start; the instance is stopped", "instance", id, "backend", s.backend.Name(), "err", err)
		}
		inst.bootFailed(s)
		return
	}
	inst.booted(s, addrs.PrivateIP, time.Now().UTC())
}

// stopFlow stops the host; with reboot it starts it again afterwards.
func (s *Server) stopFlow(ctx context.Context, id string, op int, reboot bool) {
	began := time.Now()
	err := s.backend.Stop(ctx, id)
	if err == nil {
		if sleepCtx(ctx, s.faults.get().StopTime.D()-time.Since(began)) != nil {
			return
		}
	}
	s.mu.Lock()
	inst := s.current(id, op)
	if inst == nil {
		s.mu.Unlock()
		return
	}
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("cloudsim: the host of an instance failed to stop; the instance stays running", "instance", id, "backend", s.backend.Name(), "err", err)
		}
		inst.haltFailed(s)
		s.mu.Unlock()
		return
	}
	if !reboot {
		inst.halted(s)
		s.mu.Unlock()
		return
	}
	inst.restarting(s)
	s.mu.Unlock()
	s.bootFlow(ctx, id, op)
}
